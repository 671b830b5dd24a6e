import Mustache

/// The plugin's Mustache templates: the approval mail (HTML and text) and the pages its links
/// open. Kept in the library itself, since a plugin is one shared-library file.
///
/// Pages work without JavaScript and are built for assistive technology: one `main` landmark,
/// one `h1`, a labelled comment box, the result announced with `role="status"`.
enum ApprovalTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in templates { try library.register(text, named: name) }
        return library
    }

    private static let templates: [(String, String)] = [
        ("page-head", pageHead), ("page-foot", pageFoot), ("confirm", confirm), ("message", message),
        ("mail-html", mailHTML), ("mail-text", mailText),
    ]

    private static let pageHead = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex, nofollow">
        <title>{{title}} · {{subject}}</title>
        <style>
        body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; background: #f4f5f7; margin: 0; }
        main { max-width: 36rem; margin: 3rem auto; padding: 2rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
        h1 { font-size: 1.5rem; margin-top: 0; }
        .request { border-left: 4px solid #0b5cad; padding-left: 1rem; margin: 1.5rem 0; }
        .option { font-weight: 700; }
        label { display: block; font-weight: 600; margin-top: 1.5rem; }
        textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; border: 1px solid #6b6b6b; border-radius: 4px; }
        button { margin-top: 1rem; font: inherit; font-weight: 600; color: #fff; background: #0b5cad; border: 0; border-radius: 4px; padding: .6rem 1.4rem; cursor: pointer; }
        button:focus, textarea:focus { outline: 3px solid #f0a30a; outline-offset: 2px; }
        .muted { color: #545454; }
        </style>
        </head>
        <body>
        <main>

        """

    private static let pageFoot = """
        </main>
        </body>
        </html>

        """

    /// The page a link opens (GET): names the request and the option, and asks to confirm.
    private static let confirm = """
        {{> page-head}}
        <h1>{{title}}</h1>
        <div class="request">
        <p><strong>{{subject}}</strong></p>
        {{#headerText}}<p>{{headerText}}</p>{{/headerText}}
        </div>
        <p>{{#selectionText}}{{selectionText}} {{/selectionText}}You are responding as <strong>{{recipient}}</strong> with
        <span class="option">{{option}}</span>.</p>
        <form method="post" action="?{{query}}">
        <label for="comments">Comments (optional)</label>
        <textarea id="comments" name="comments" rows="4" maxlength="{{maximumComment}}"></textarea>
        <button type="submit">Confirm: {{option}}</button>
        </form>
        <p class="muted">Nothing is recorded until you confirm.</p>
        {{> page-foot}}
        """

    /// Every other page: a heading, what happened, and the decision when there is one.
    private static let message = """
        {{> page-head}}
        <h1>{{title}}</h1>
        <div role="status">
        <p>{{text}}</p>
        {{#decision}}
        <p>Decision: <span class="option">{{option}}</span>{{#by}} by {{by}}{{/by}}{{#at}}, {{at}}{{/at}}.</p>
        {{/decision}}
        </div>
        <div class="request">
        <p><strong>{{subject}}</strong></p>
        </div>
        {{> page-foot}}
        """

    private static let mailHTML = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><title>{{subject}}</title></head>
        <body style="font-family: Segoe UI, Helvetica, Arial, sans-serif; color: #1b1b1b;">
        {{#headerText}}<h2 style="font-size: 18px;">{{headerText}}</h2>{{/headerText}}
        {{#bodyHTML}}<div>{{{bodyHTML}}}</div>{{/bodyHTML}}
        {{#bodyText}}<div style="white-space: pre-wrap;">{{bodyText}}</div>{{/bodyText}}
        <p style="margin-top: 24px;">{{selectionText}}</p>
        <p>
        {{#links}}<a href="{{url}}" style="display: inline-block; margin: 0 8px 8px 0; padding: 10px 20px; background: #0b5cad; color: #ffffff; text-decoration: none; border-radius: 4px; font-weight: 600;">{{option}}</a>
        {{/links}}
        </p>
        <p style="color: #545454; font-size: 13px;">Each button opens a page where you confirm your response; opening it alone records nothing.{{#all}} Every recipient's approval is required.{{/all}}</p>
        </body>
        </html>

        """

    private static let mailText = """
        {{#headerText}}{{{headerText}}}

        {{/headerText}}{{{bodyText}}}

        {{{selectionText}}}
        {{#links}}
        {{{option}}}: {{{url}}}
        {{/links}}

        Each link opens a page where you confirm your response; opening it alone records nothing.{{#all}}
        Every recipient's approval is required.{{/all}}

        """
}
