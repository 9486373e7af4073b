//! `--ui ADDR`, the same for every application: one [`neptune::ui`] server per command
//! line, started with the first context or runtime a run creates and then shown each
//! later one in turn (a run per policy or per slot count keeps one address).

use neptune::dataflow::Context;
use neptune::runtime::Handle;
use neptune::ui::prometheus_client::registry::Registry;
use neptune::ui::{Ui, UiBuilder, UiHandle};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;

/// Spans per slot that the timeline keeps while a UI serves (its timeline page shows
/// the last few seconds of a busy slot).
pub const TIMELINE_SPANS: usize = 4096;

/// `--ui`'s value parser: `HOST:PORT` that resolves, taken at its first address.
pub fn addr(s: &str) -> Result<SocketAddr, String> {
    match s.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(format!("{s} resolves to no address")),
        Err(e) => Err(format!("not an address to listen on (HOST:PORT): {e}")),
    }
}

/// Registers an application's own metrics when the UI starts.
type Register = Box<dyn FnOnce(&mut Registry) + Send>;

/// The UI of one command line, if `--ui` asked for one.
pub struct LiveUi {
    addr: Option<SocketAddr>,
    /// The application's metrics, registered when the UI starts.
    register: Mutex<Option<Register>>,
    ui: Mutex<Option<UiHandle>>,
}

impl LiveUi {
    /// A UI to serve at `addr` once there is something to show (none: no UI).
    pub fn new(addr: Option<SocketAddr>) -> LiveUi {
        LiveUi {
            addr,
            register: Mutex::new(None),
            ui: Mutex::new(None),
        }
    }

    /// Serves the application's own metrics beside the engine's.
    pub fn with_metrics(self, register: impl FnOnce(&mut Registry) + Send + 'static) -> LiveUi {
        *lock(&self.register) = Some(Box::new(register));
        self
    }

    /// Whether a UI was asked for.
    pub fn serving(&self) -> bool {
        self.addr.is_some()
    }

    /// Spans per slot a context or runtime should keep for the timeline page: none
    /// without a UI, where nobody reads them.
    pub fn timeline_spans(&self) -> usize {
        if self.serving() {
            TIMELINE_SPANS
        } else {
            0
        }
    }

    /// Where the UI listens, once it started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        lock(&self.ui).as_ref().map(UiHandle::local_addr)
    }

    /// Shows `ctx` from now on (starting the UI the first time).
    pub fn show_context(&self, ctx: &Context) -> Result<(), String> {
        self.show(|b| b.context(ctx), |ui| ui.set_context(ctx))
    }

    /// Shows the bare runtime `rt` from now on (starting the UI the first time).
    pub fn show_runtime(&self, rt: &Handle) -> Result<(), String> {
        self.show(|b| b.runtime(rt), |ui| ui.set_runtime(rt))
    }

    fn show(
        &self,
        first: impl FnOnce(UiBuilder) -> UiBuilder,
        next: impl FnOnce(&UiHandle),
    ) -> Result<(), String> {
        let Some(addr) = self.addr else {
            return Ok(());
        };
        let mut ui = lock(&self.ui);
        match &*ui {
            Some(running) => next(running),
            None => {
                let mut builder = first(Ui::builder().bind(addr));
                if let Some(register) = lock(&self.register).take() {
                    builder = builder.metrics(register);
                }
                let started = builder
                    .start()
                    .map_err(|e| format!("cannot serve the UI at {addr}: {e}"))?;
                eprintln!("UI: {}", started.url());
                *ui = Some(started);
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_resolve() {
        assert_eq!(
            addr("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse::<SocketAddr>().unwrap()
        );
        for bad in ["nowhere", "127.0.0.1", ""] {
            assert!(addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_an_address_nothing_is_served() {
        let live = LiveUi::new(None);
        assert!(!live.serving());
        assert_eq!(live.timeline_spans(), 0);
        let rt = neptune::runtime::Builder::new().slots(1).build().unwrap();
        live.show_runtime(rt.handle()).unwrap();
        assert!(lock(&live.ui).is_none());
    }
}
