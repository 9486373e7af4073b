//! A self-contained HTML page: inline CSS, inline SVG plots, no scripts and no outside
//! resources, so a report opens anywhere and can be mailed as one file.

use std::fmt::Write as _;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table: a header row and rows of cells, all escaped.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in headers {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            let _ = write!(s, "<td>{}</td>", esc(cell));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// A figure: an SVG document inlined (its XML declaration dropped) with a caption.
pub fn figure(svg: &str, caption: &str) -> String {
    let body = match svg.find("<svg") {
        Some(at) => &svg[at..],
        None => svg,
    };
    format!(
        "<figure>\n{body}\n<figcaption>{}</figcaption>\n</figure>\n",
        esc(caption)
    )
}

/// One section of a page: a heading and HTML written by the caller.
pub struct Section {
    /// The heading.
    pub heading: String,
    /// The body, already HTML.
    pub html: String,
}

const STYLE: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}\
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}\
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
figure{margin:12px 0}figcaption{font-size:12px;color:#555}svg{max-width:100%;height:auto}\
.meta{color:#555;font-size:13px}";

/// The whole page.
pub fn page(title: &str, meta: &str, sections: &[Section]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n<p class=\"meta\">{m}</p>\n",
        t = esc(title),
        m = esc(meta)
    );
    for sec in sections {
        let _ = write!(s, "<h2>{}</h2>\n{}", esc(&sec.heading), sec.html);
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_svg_inlined() {
        let t = table(&["policy", "p99"], &[vec!["<fifo>".into(), "1 & 2".into()]]);
        assert!(t.contains("&lt;fifo&gt;") && t.contains("1 &amp; 2"));
        let f = figure("<?xml version=\"1.0\"?>\n<svg></svg>", "a \"plot\"");
        assert!(f.starts_with("<figure>\n<svg>") && f.contains("a &quot;plot&quot;"));
        let page = page(
            "Run <1>",
            "2 slots",
            &[Section {
                heading: "Results".into(),
                html: t,
            }],
        );
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("<h1>Run &lt;1&gt;</h1>") && page.contains("<h2>Results</h2>"));
    }
}
