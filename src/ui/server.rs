//! The HTTP server: a one-slot neptune runtime of its own, hyper on its TCP sockets,
//! and the routes.
//!
//! Each connection is served by a Stream task of that runtime, so a scrape never waits
//! behind Batch work, and the executors' slots never run UI code: reading metrics is a
//! few relaxed loads per slot and one short lock of the status board. Requests are
//! answered whole (bodies are small and built at once); a client has
//! [`HEADER_READ_TIMEOUT`] to send a request head, and a malformed request gets
//! hyper's `400` and loses only its own connection.

use super::api::{self, Source};
use super::pages;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use neptune_runtime::http::{HyperIo, HyperTimer};
use neptune_runtime::net::TcpListener;
use neptune_runtime::{time, Runtime, SpawnOptions};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a client has to send a complete request head (on a new connection, and
/// between requests on a kept-alive one).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every request reads.
pub(crate) struct UiState {
    pub(crate) source: Source,
    pub(crate) registry: Registry,
}

/// A started server: its runtime (which stops it when dropped) and its address.
pub(crate) struct Server {
    pub(crate) runtime: Runtime,
    pub(crate) addr: SocketAddr,
}

/// The UI thread's nice value: the lowest priority, below the executors' slots. On a
/// machine whose cores all run slots, a scrape then takes CPU time when the scheduler
/// next rotates rather than preempting a slot the moment it arrives, where it could
/// land in the middle of a Stream task.
///
/// Measured with `neptune bench ui-cost` (the unified app's stream p99 with one scrape
/// a second over its p99 without a UI, medians of 8 runs): 1.02–1.14 at nice 19, 1.85
/// at nice 0. Short time slices for this thread (and the application's sampling
/// thread), which make it run when a request arrives, were worse at one scrape a
/// second (1.80 at nice 19, 2.15 at nice 0, 6 runs each), though better at ten a
/// second (1.33 against 3.36).
const UI_NICE: i32 = 19;

/// Starts serving `state` on `addr`.
pub(crate) fn start(addr: SocketAddr, state: Arc<UiState>) -> io::Result<Server> {
    let runtime = neptune_runtime::Builder::new()
        .slots(1)
        .thread_name("neptune-ui")
        .slot_nice(UI_NICE)
        .build()?;
    let listener = runtime.block_on(TcpListener::bind(addr))?;
    let addr = listener.local_addr()?;
    drop(runtime.spawn_with(
        SpawnOptions::stream().name("neptune-ui-accept"),
        accept_loop(listener, state),
    ));
    Ok(Server { runtime, addr })
}

/// Accepts connections and serves each in its own Stream task, until the runtime stops.
async fn accept_loop(listener: TcpListener, state: Arc<UiState>) {
    let mut http = http1::Builder::new();
    http.timer(HyperTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, say: retrying at once would only spin.
                time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Responses are written whole: send them without Nagle's delay. Best effort.
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(respond(&req, &state)) }
        });
        let connection = http.serve_connection(HyperIo::new(stream), service);
        // A connection's errors (a malformed request, a client gone) are its own.
        drop(neptune_runtime::spawn_with(
            SpawnOptions::stream(),
            async move {
                let _ = connection.await;
            },
        ));
    }
}

/// A response with `body` as `content_type`, never cached (every answer is "now").
fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";

fn not_found(path: &str) -> Response<String> {
    // The path is echoed as plain text, cut short: the body stays short.
    let shown: String = path.chars().take(200).collect();
    reply(StatusCode::NOT_FOUND, TEXT, format!("not found: {shown}\n"))
}

fn respond(req: &Request<Incoming>, state: &UiState) -> Response<String> {
    if req.method() != Method::GET {
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "method not allowed: only GET\n".to_owned(),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let path = req.uri().path();
    let query = req.uri().query();
    match path {
        "/metrics" => metrics(state),
        "/" | "/jobs" | "/executors" | "/timeline" => match pages::render(path, query, state) {
            Some(html) => reply(StatusCode::OK, HTML, html),
            None => not_found(path),
        },
        _ => match api_json(path, query, state) {
            Some(Ok(body)) => reply(StatusCode::OK, JSON, body),
            Some(Err(e)) => reply(StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("{e}\n")),
            None => not_found(path),
        },
    }
}

fn metrics(state: &UiState) -> Response<String> {
    let mut body = String::new();
    match prometheus_text::encode(&mut body, &state.registry) {
        Ok(()) => reply(StatusCode::OK, prometheus_text::CONTENT_TYPE, body),
        Err(_) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            "a collector failed to encode its metrics\n".to_owned(),
        ),
    }
}

/// The JSON of API path `path`, or `None` if there is no such path.
pub(crate) fn api_json(
    path: &str,
    query: Option<&str>,
    state: &UiState,
) -> Option<serde_json::Result<String>> {
    let rest = path.strip_prefix("/api/v1/")?;
    let filter = api::query_param(query, "status");
    let shown = &state.source.shown();
    let body = match rest {
        "overview" => serde_json::to_string(&api::overview(
            &state.source,
            shown,
            &shown.status_summary(),
        )),
        "jobs" => {
            let status = shown.status();
            let jobs: Vec<_> = status
                .jobs
                .iter()
                .filter(|j| api::status_matches(&j.status, filter))
                .collect();
            serde_json::to_string(&jobs)
        }
        "stages" => {
            let status = shown.status();
            let stages: Vec<_> = status
                .stages
                .iter()
                .filter(|s| api::status_matches(&s.status, filter))
                .collect();
            serde_json::to_string(&stages)
        }
        "tasks" => {
            let status = shown.status();
            let tasks: Vec<_> = status
                .tasks
                .iter()
                .filter(|t| api::status_matches(&t.status, filter))
                .collect();
            serde_json::to_string(&tasks)
        }
        "executors" => serde_json::to_string(&api::executors(shown, &shown.status())),
        "timeline" => {
            let window = api::query_param(query, "window")
                .and_then(|w| w.parse().ok())
                .unwrap_or(api::TIMELINE_WINDOW);
            serde_json::to_string(&api::timeline(shown, &shown.status(), window))
        }
        _ => {
            // `jobs/<id>`: one job, as Spark's API has it.
            let id: u64 = rest.strip_prefix("jobs/")?.parse().ok()?;
            let status = shown.status();
            let job = status.jobs.iter().find(|j| j.job_id == id)?;
            serde_json::to_string(job)
        }
    };
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_found_by_key() {
        assert_eq!(
            api::query_param(Some("a=1&status=paused"), "status"),
            Some("paused")
        );
        assert_eq!(api::query_param(Some("status"), "status"), None);
        assert_eq!(api::query_param(None, "status"), None);
        let paused = neptune_dataflow::status::TaskState::Paused;
        assert!(api::status_matches(&paused, Some("paused")));
        assert!(!api::status_matches(&paused, Some("running")));
        assert!(api::status_matches(&paused, None));
    }
}
