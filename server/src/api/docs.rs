//! `GET /api/docs`: the OpenAPI document rendered for people, without any JavaScript or
//! downloaded viewer (Swagger UI would fetch its assets at build time, which we cannot).

use axum::response::Html;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::OpenApi;

use super::openapi::ApiDoc;

/// The API reference as an HTML page.
#[utoipa::path(get, path = "/api/docs", tag = "operations",
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub async fn page() -> Html<&'static str> {
    // Rendered once, like the document it shows.
    static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| render(&ApiDoc::openapi()));
    Html(PAGE.as_str())
}

fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let mut rows: Vec<(String, &str, &Operation)> = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Patch, &item.patch),
            (HttpMethod::Delete, &item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                rows.push((path.clone(), method_name(&method), op));
            }
        }
    }
    let mut body = String::new();
    for (path, method, op) in rows {
        let summary = op.summary.clone().or_else(|| op.description.clone()).unwrap_or_default();
        let tags = op.tags.clone().unwrap_or_default().join(", ");
        let mut statuses: Vec<String> = op.responses.responses.keys().cloned().collect();
        statuses.sort();
        body.push_str(&format!(
            "<tr><td><span class=\"method method-{m}\">{M}</span></td><td><code>{p}</code></td>\
             <td>{s}</td><td>{t}</td><td>{r}</td></tr>\n",
            m = method.to_ascii_lowercase(),
            M = method,
            p = escape(&path),
            s = escape(&summary),
            t = escape(&tags),
            r = escape(&statuses.join(" ")),
        ));
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>API reference · proxfleet</title><link rel=\"stylesheet\" href=\"/pkg/proxfleet.css\"></head>\
         <body class=\"docs-page\"><main class=\"content\"><p><a href=\"/\">← proxfleet</a></p>\
         <h1>{title} <small class=\"muted\">{version}</small></h1><p class=\"lead\">{desc}</p>\
         <p>Machine-readable: <a href=\"/api/openapi.json\"><code>/api/openapi.json</code></a></p>\
         <div class=\"card\"><table class=\"table\"><thead><tr><th>Method</th><th>Path</th>\
         <th>Summary</th><th>Area</th><th>Responses</th></tr></thead><tbody>\n{body}</tbody></table></div>\
         </main></body></html>",
        title = escape(&doc.info.title),
        version = escape(&doc.info.version),
        desc = escape(doc.info.description.as_deref().unwrap_or("")),
    )
}

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

/// Minimal HTML escaping for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn lists_every_documented_operation() {
        let html = render(&ApiDoc::openapi());
        assert!(html.contains("<code>/api/system/info</code>"));
        assert!(html.contains("<code>/healthz</code>"));
        assert!(html.contains("method-get"));
    }
}
