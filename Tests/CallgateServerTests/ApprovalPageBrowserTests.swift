import CallgateCLI
import CallgateServer
import CallgateTesting
import Foundation
import Testing

/// The confirmation page in a real browser: headless Chromium driven by Selenium (Debian's
/// chromium, chromium-driver and python3-selenium, installed by .ci/run) opens an approval link,
/// types a comment, submits the form without any script of ours, and reads the answer page.
@Suite struct ApprovalPageBrowserTests {
    static let browserScript = #"""
    import json, sys
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    url, comment, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,800",
                     "--javascript-enabled=false", "--ignore-certificate-errors"]:
        options.add_argument(argument)
    # The pages must work without JavaScript: run with it off.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        before = {"title": driver.title, "h1": driver.find_element(By.TAG_NAME, "h1").text,
                  "label": driver.find_element(By.CSS_SELECTOR, "label[for=comments]").text,
                  "button": driver.find_element(By.CSS_SELECTOR, "button[type=submit]").text}
        driver.find_element(By.ID, "comments").send_keys(comment)
        driver.save_screenshot(shots + "/confirm.png")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        after = {"h1": driver.find_element(By.TAG_NAME, "h1").text, "status": driver.find_element(By.CSS_SELECTOR, "[role=status]").text}
        driver.save_screenshot(shots + "/recorded.png")
        print(json.dumps({"before": before, "after": after}))
    finally:
        driver.quit()
    """#

    /// Why the browser test cannot run here, or nil when it can. Debian's Python, which has
    /// Debian's selenium (a `python3` earlier on the PATH may not).
    static var missingBrowser: String? {
        for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: path) {
            return "\(path) is not installed (.ci/run installs chromium and chromium-driver)"
        }
        guard (try? SMTPTestServer.run(["/usr/bin/python3", "-c", "import selenium"], in: NSTemporaryDirectory())) != nil else {
            return "python3-selenium is not installed (.ci/run installs it)"
        }
        return nil
    }

    @Test func aPersonConfirmsInChromiumAndTheRunGetsTheirComment() async throws {
        if let reason = Self.missingBrowser {
            print("skipped aPersonConfirmsInChromiumAndTheRunGetsTheirComment: \(reason)")
            return
        }
        // The browser follows the link as mailed, so the public URL carries the real port.
        let port = try SMTPTestServer.freePort()
        let gateway = try await TestGateway.start(bundledPlugins: BundledPlugins.all) { configuration in
            configuration.listen = .init(host: "127.0.0.1", port: port)
            configuration.publicURL = "https://127.0.0.1:\(port)"
        }
        try await gateway.deploy("browser", ApprovalEmailTests.definition(to: "ada@example.com"))
        let (runID, _) = try await gateway.trigger("browser", json: #"{"version": "9.1"}"#)
        _ = try await gateway.waitForRun(runID) { $0.status(of: "Ask") == "Waiting" }
        let mail = try #require(try await ApprovalEmailTests.outboxMails(gateway, count: 1)["ada@example.com"])
        let link = try #require(mail.links["Approve"])
        #expect(link.hasPrefix("https://127.0.0.1:\(port)/cb/"))

        let script = gateway.directory.path + "/browser.py"
        try Self.browserScript.write(toFile: script, atomically: true, encoding: .utf8)
        let comment = "Approved from the browser: ünïcode & <tags> stay text"
        let output = try SMTPTestServer.run(["/usr/bin/python3", script, link, comment, gateway.directory.path], in: gateway.directory.path)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [String: String]])
        #expect(result["before"]?["h1"] == "Confirm your response")
        #expect(result["before"]?["label"] == "Comments (optional)")
        #expect(result["before"]?["button"] == "Confirm: Approve")
        #expect(result["before"]?["title"]?.contains("Deploy 9.1?") == true)
        #expect(result["after"]?["h1"] == "Your response was recorded")
        #expect(result["after"]?["status"]?.contains("You chose Approve") == true)
        #expect(FileManager.default.fileExists(atPath: gateway.directory.path + "/recorded.png"))

        let run = try await gateway.waitForRun(runID)
        let outputs = try #require(run.outputs(of: "Ask") as? [String: Any])
        #expect(outputs["SelectedOption"] as? String == "Approve")
        #expect(outputs["Comments"] as? String == comment)
        try await gateway.stopAndRemove()
    }
}
