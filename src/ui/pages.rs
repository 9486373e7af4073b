//! The HTML pages: one document each, with inline CSS and JavaScript.
//!
//! A page embeds the JSON of the API paths it shows (in a `<script
//! type="application/json">`), and its script renders it as the document loads, so the
//! first view needs no request and shows content even before any fetch. The script
//! then fetches the same paths every second and renders again. Rendering happens in
//! one place (the page's `render`), and everything shown goes through `esc`.

use super::api::query_param;
use super::server::{api_json, UiState};

/// Shared stylesheet.
const CSS: &str = include_str!("assets/ui.css");
/// Shared script: formatting, tables, the refresh loop.
const COMMON_JS: &str = include_str!("assets/ui.js");

/// A page: its path, title, the API paths it shows, and its `render` function.
struct Page {
    path: &'static str,
    title: &'static str,
    apis: &'static [&'static str],
    script: &'static str,
}

const PAGES: &[Page] = &[
    Page {
        path: "/",
        title: "Overview",
        apis: &["/api/v1/overview"],
        script: include_str!("assets/overview.js"),
    },
    Page {
        path: "/jobs",
        title: "Jobs",
        apis: &["/api/v1/jobs", "/api/v1/stages", "/api/v1/tasks"],
        script: include_str!("assets/jobs.js"),
    },
    Page {
        path: "/executors",
        title: "Executors",
        apis: &["/api/v1/executors"],
        script: include_str!("assets/executors.js"),
    },
    Page {
        path: "/timeline",
        title: "Timeline",
        apis: &["/api/v1/timeline"],
        script: include_str!("assets/timeline.js"),
    },
];

/// The page at `path`, rendered now; `None` if there is none. A `window=SECONDS`
/// query is handed on to the API paths that take one (the timeline's).
pub(crate) fn render(path: &str, query: Option<&str>, state: &UiState) -> Option<String> {
    let page = PAGES.iter().find(|p| p.path == path)?;
    // Only a number travels on: nothing from the request reaches the page unparsed.
    let window = query_param(query, "window")
        .and_then(|w| w.parse::<f64>().ok())
        .filter(|w| w.is_finite() && *w > 0.0)
        .map(|w| format!("window={w}"));
    let query_of = |api: &str| window.as_deref().filter(|_| api == "/api/v1/timeline");
    let mut data = String::from("{");
    for (i, api) in page.apis.iter().enumerate() {
        let json = api_json(api, query_of(api), state)?.ok()?;
        if i > 0 {
            data.push(',');
        }
        data.push_str(&format!("\"{api}\":{json}"));
    }
    data.push('}');
    let nav: String = PAGES
        .iter()
        .map(|p| {
            let on = if p.path == page.path {
                " class=\"on\""
            } else {
                ""
            };
            format!("<a href=\"{}\"{on}>{}</a>", p.path, p.title)
        })
        .collect();
    let urls = page
        .apis
        .iter()
        .map(|a| match query_of(a) {
            Some(q) => format!("\"{a}?{q}\""),
            None => format!("\"{a}\""),
        })
        .collect::<Vec<_>>()
        .join(",");
    Some(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Neptune · {title}</title><style>{CSS}</style></head>\n<body>\
         <header><span class=\"brand\">Neptune</span><nav>{nav}</nav>\
         <span id=\"live\" class=\"live\">live</span></header>\n\
         <main id=\"app\"><noscript>This page draws its tables with JavaScript; the same \
         data is at {apis}.</noscript></main>\n\
         <script id=\"data\" type=\"application/json\">{data}</script>\n\
         <script>{COMMON_JS}\n{script}\nstart([{urls}], render);</script>\n</body></html>\n",
        title = page.title,
        apis = page.apis.join(", "),
        data = script_safe(&data),
        script = page.script,
    ))
}

/// JSON made safe to embed in a `<script>` element: no `<` can open `</script>` or a
/// comment. `\u003c` is the same character to a JSON parser (`<` appears only inside
/// strings in JSON).
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script() {
        let json = r#"{"name":"</script><script>alert(1)</script>"}"#;
        let safe = script_safe(json);
        assert!(!safe.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["name"], "</script><script>alert(1)</script>");
    }
}
