//! Just enough of the Chrome DevTools Protocol to look into a page, as the tests use it: the
//! protocol client is the lab's ([`pushlab::lab::browser`]: Chromium started with remote debugging,
//! a tab opened and attached over pushlab's own WebSocket client, `Runtime.evaluate` in the page), so
//! the pages are tested exactly as served, without any hook for the tests in them. This wrapper only
//! turns its errors into test failures that show the page's state.

use std::path::Path;
use std::time::Duration;

use pushlab::lab::browser::{Chromium, Tab};

use crate::support::Json;

/// A page in a headless Chromium, and a debugger connection to it.
pub struct Page {
    tab: Tab,
    // Declared last: the browser is killed after the debugger's socket is dropped.
    _browser: Chromium,
}

impl Page {
    /// Starts Chromium and opens `url` in a tab attached to the debugger.
    pub fn open(chromium: &Path, url: &str) -> Page {
        let browser = Chromium::start_program(chromium)
            .unwrap_or_else(|e| panic!("could not start {}: {e}", chromium.display()));
        let tab = browser
            .open_tab(url)
            .unwrap_or_else(|e| panic!("could not open {url}: {e}"));
        Page {
            tab,
            _browser: browser,
        }
    }

    /// Evaluates `expression` in the page and returns its value (`returnByValue`: JSON-like values).
    pub fn evaluate(&mut self, expression: &str) -> Json {
        self.try_evaluate(expression)
            .unwrap_or_else(|exception| panic!("{expression} threw: {exception}"))
    }

    /// Evaluates `expression`, waits for the promise it gives, and returns what the promise resolves to.
    pub fn evaluate_promise(&mut self, expression: &str) -> Result<Json, String> {
        self.try_evaluate(expression)
    }

    /// Like [`Page::evaluate`], with an exception thrown in the page as an error.
    pub fn try_evaluate(&mut self, expression: &str) -> Result<Json, String> {
        self.tab.evaluate(expression).map_err(|e| e.to_string())
    }

    /// Evaluates `expression` until it is `true`; panics with `explain`'s value if it never is within
    /// `limit`. An exception counts as "not yet": the page may still be loading.
    pub fn wait_until(&mut self, expression: &str, explain: &str, limit: Duration) {
        if self.tab.wait_until(expression, limit).is_ok() {
            return;
        }
        let state = self.try_evaluate(explain);
        panic!("not true within {limit:?}: {expression}\nthe page: {state:?}");
    }
}
