import Foundation

/// ISO 8601 parsing and .NET-style formatting (`o`, `s`, `u`, and custom patterns such as
/// `yyyy-MM-ddTHH:mm:ssZ`), all in UTC, as Logic Apps' date functions use them.
enum DateFormat {
    static func parse(_ text: String, function: String) throws(ExpressionError) -> Date {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        // .NET writes 7 fractional digits; ISO8601DateFormatter reads at most 3.
        let trimmed = text.replacingOccurrences(of: #"(\.\d{3})\d+"#, with: "$1", options: .regularExpression)
        if let date = withFraction.date(from: trimmed) ?? plain.date(from: trimmed) { return date }
        let dateOnly = ISO8601DateFormatter()
        dateOnly.formatOptions = [.withFullDate]
        if let date = dateOnly.date(from: text) { return date }
        throw ExpressionError("the function '\(function)' cannot read '\(text)' as an ISO 8601 timestamp")
    }

    static func format(_ date: Date, _ format: String, function: String) throws(ExpressionError) -> String {
        let pattern: String
        switch format {
        case "o", "O": pattern = "yyyy-MM-ddTHH:mm:ss.fffffffZ"
        case "s": pattern = "yyyy-MM-ddTHH:mm:ss"
        case "u": pattern = "yyyy-MM-dd HH:mm:ssZ"
        case "d": pattern = "MM/dd/yyyy"
        default:
            guard format.count > 1 else { throw ExpressionError("the function '\(function)' does not know the format '\(format)'") }
            pattern = format
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        let characters = Array(pattern)
        var output = ""
        var index = 0
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        while index < characters.count {
            let character = characters[index]
            var run = 1
            while index + run < characters.count, characters[index + run] == character { run += 1 }
            switch character {
            case "y": output += run == 2 ? pad((parts.year ?? 0) % 100, 2) : pad(parts.year ?? 0, run)
            case "M": output += pad(parts.month ?? 0, run)
            case "d": output += pad(parts.day ?? 0, run)
            case "H": output += pad(parts.hour ?? 0, run)
            case "h": output += pad(((parts.hour ?? 0) + 11) % 12 + 1, run)
            case "m": output += pad(parts.minute ?? 0, run)
            case "s": output += pad(parts.second ?? 0, run)
            case "f", "F":
                // From the time interval rounded to microseconds (a Double holds no more at this
                // magnitude), not Calendar's nanoseconds, which round down (.123 → .1229999).
                let seconds = date.timeIntervalSince1970
                let ticks = min(Int(((seconds - seconds.rounded(.down)) * 1_000_000).rounded()) * 10, 9_999_999)
                output += String(pad(ticks, 7).prefix(min(run, 7)))
            case "t": output += (parts.hour ?? 0) < 12 ? String("AM".prefix(run)) : String("PM".prefix(run))
            case "Z", "K": output += String(repeating: "Z", count: 1)
            case "'", "\"":
                // A quoted literal.
                var end = index + 1
                while end < characters.count, characters[end] != character { end += 1 }
                output += String(characters[(index + 1)..<min(end, characters.count)])
                index = end + 1
                continue
            case "\\":
                if index + 1 < characters.count { output.append(characters[index + 1]) }
                index += 2
                continue
            default:
                output += String(repeating: character, count: run)
            }
            index += run
        }
        return output
    }
}
