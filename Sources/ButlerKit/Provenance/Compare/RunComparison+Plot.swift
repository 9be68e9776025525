import Foundation

extension RunComparison {
    /// The comparison drawn as SVG: for each metric, the distributions of A and B overlaid (left) and the
    /// distribution of the differences B − A (right), with each side's median marked.
    public func svgText() -> String {
        // A metric measured on one side only has nothing to draw.
        let metrics = self.metrics.filter { !$0.pairs.isEmpty }
        let panelWidth = 440.0, panelHeight = 230.0, margin = (left: 56.0, right: 30.0, top: 40.0, bottom: 44.0)
        let rowHeight = panelHeight + margin.top + margin.bottom
        let width = 2 * (panelWidth + margin.left + margin.right)
        let height = max(1, Double(metrics.count)) * rowHeight + 30
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="20" text-anchor="middle" font-size="14">\(Self.escaped("\(runA) (A) vs \(runB) (B)"))</text>

            """
        if metrics.isEmpty {
            svg += "<text x=\"20\" y=\"50\">no metric in both runs</text>\n"
        }
        for (row, metric) in metrics.enumerated() {
            let top = 30 + Double(row) * rowHeight
            let a = metric.pairs.map(\.valueA), b = metric.pairs.map(\.valueB), d = metric.pairs.map(\.difference)
            svg += Self.histogram(title: "\(metric.datasetType).\(metric.name): A (n=\(a.count), median \(Self.number(metric.a.median))) and B (median \(Self.number(metric.b.median)))",
                                  series: [(a, "#1f77b4", "A: \(runA)"), (b, "#ff7f0e", "B: \(runB)")], medians: [metric.a.median, metric.b.median],
                                  x: margin.left, y: top + margin.top, width: panelWidth, height: panelHeight, xLabel: metric.name)
            svg += Self.histogram(title: "\(metric.name) B − A (median \(Self.number(metric.difference.median)), spread \(Self.number(metric.difference.spread)))",
                                  series: [(d, "#2ca02c", "B − A")], medians: [metric.difference.median],
                                  x: 2 * margin.left + margin.right + panelWidth, y: top + margin.top, width: panelWidth, height: panelHeight,
                                  xLabel: "difference in \(metric.name)")
        }
        return svg + "</svg>\n"
    }

    /// One panel: a histogram per series on common bins, axes with ticks, a legend and the medians as dashed lines.
    private static func histogram(title: String, series: [(values: [Double], color: String, label: String)], medians: [Double],
                                  x: Double, y: Double, width: Double, height: Double, xLabel: String) -> String {
        let all = series.flatMap(\.values).filter(\.isFinite)
        var low = all.min() ?? 0, high = all.max() ?? 1
        if high - low < 1e-12 { low -= 0.5 * max(abs(low), 1e-3); high += 0.5 * max(abs(high), 1e-3) }
        let bins = max(5, min(40, Int(Double(all.count).squareRoot().rounded(.up)) + 2))
        if !(high - low).isFinite || !(low.isFinite && high.isFinite) { (low, high) = (-1, 1) }
        let step = (high - low) / Double(bins)
        let counts = series.map { s -> [Int] in
            var c = [Int](repeating: 0, count: bins)
            for v in s.values where v.isFinite { c[min(bins - 1, max(0, Int((v - low) / step)))] += 1 }
            return c
        }
        let peak = max(1, counts.flatMap { $0 }.max() ?? 1)
        func px(_ v: Double) -> Double { x + (v - low) / (high - low) * width }
        func py(_ n: Double) -> Double { y + height - n / Double(peak) * height }
        var out = "<g>\n<text x=\"\(fmt(x + width / 2))\" y=\"\(fmt(y - 12))\" text-anchor=\"middle\">\(escaped(title))</text>\n"
        out += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" fill=\"none\" stroke=\"#444\"/>\n"
        for (s, c) in zip(series, counts) {
            for (i, n) in c.enumerated() where n > 0 {
                let left = px(low + Double(i) * step)
                out += "<rect class=\"bar\" x=\"\(fmt(left))\" y=\"\(fmt(py(Double(n))))\" width=\"\(fmt(max(0.5, width / Double(bins) - 1)))\" height=\"\(fmt(Double(n) / Double(peak) * height))\" fill=\"\(s.color)\" fill-opacity=\"0.55\"/>\n"
            }
        }
        for (m, s) in zip(medians, series) where m.isFinite {
            out += "<line x1=\"\(fmt(px(m)))\" y1=\"\(fmt(y))\" x2=\"\(fmt(px(m)))\" y2=\"\(fmt(y + height))\" stroke=\"\(s.color)\" stroke-dasharray=\"4 3\" stroke-width=\"1.5\"/>\n"
        }
        // Axes: five ticks on x, the count on y.
        for i in 0...4 {
            let v = low + Double(i) / 4 * (high - low)
            out += "<line x1=\"\(fmt(px(v)))\" y1=\"\(fmt(y + height))\" x2=\"\(fmt(px(v)))\" y2=\"\(fmt(y + height + 4))\" stroke=\"#444\"/>"
            out += "<text x=\"\(fmt(px(v)))\" y=\"\(fmt(y + height + 16))\" text-anchor=\"middle\">\(number(v))</text>\n"
        }
        out += "<text x=\"\(fmt(x - 6))\" y=\"\(fmt(y + 4))\" text-anchor=\"end\">\(peak)</text><text x=\"\(fmt(x - 6))\" y=\"\(fmt(y + height))\" text-anchor=\"end\">0</text>\n"
        out += "<text x=\"\(fmt(x + width / 2))\" y=\"\(fmt(y + height + 34))\" text-anchor=\"middle\">\(escaped(xLabel))</text>\n"
        out += "<text transform=\"translate(\(fmt(x - 36)) \(fmt(y + height / 2))) rotate(-90)\" text-anchor=\"middle\">datasets</text>\n"
        for (i, s) in series.enumerated() {
            let ly = y + 14 + Double(i) * 16
            out += "<rect x=\"\(fmt(x + width - 150))\" y=\"\(fmt(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(s.color)\" fill-opacity=\"0.55\"/>"
            out += "<text x=\"\(fmt(x + width - 135))\" y=\"\(fmt(ly))\">\(escaped(String(s.label.prefix(24))))</text>\n"
        }
        return out + "</g>\n"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "–" }
        return abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? String(format: "%.2e", v) : String(format: "%.4g", v)
    }

    static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension RunComparison {
    /// Writes the picture (``svgText()``) to `path`: SVG for `.svg`, PNG for `.png` (drawn from the SVG by
    /// `rsvg-convert`, Debian's librsvg2-bin).
    ///
    /// - Throws: ``ButlerError/Code/invalidValue`` for another extension, ``ButlerError/Code/io`` when the file
    ///   cannot be written or `rsvg-convert` is missing or fails.
    public func writePlot(to path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard ext == "svg" || ext == "png" else {
            throw ButlerError(.invalidValue, "cannot draw \(path): the picture is written as .svg or .png")
        }
        let svg = svgText()
        guard ext == "png" else {
            do { try svg.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw ButlerError(.io, "cannot write \(path): \(error.localizedDescription)")
            }
            return
        }
        guard let converter = Butler.resolveExecutable("rsvg-convert") else {
            throw ButlerError(.io, "cannot draw \(path): PNG needs rsvg-convert (Debian's librsvg2-bin); write a .svg instead")
        }
        let temporary = NSTemporaryDirectory() + "butler-plot-\(UUID().uuidString).svg"
        try svg.write(toFile: temporary, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let (code, output) = Butler.execute(converter, ["-f", "png", "-o", path, temporary])
        guard code == 0 else {
            throw ButlerError(.io, "cannot draw \(path): rsvg-convert failed: \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
