//! The three browser apps of spec section 8, served from the files `scripts/setup` builds
//! (`web/dist`): the customer app at `/app/`, the driver app at `/driver/`, the operations
//! console at `/ops/`, their shared bundles under `/assets/`. They are public files; every
//! request they make is signed in like any other client's.

use std::path::Path;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use tower_http::services::ServeDir;

/// The apps, by the path each is served under.
const APPS: [&str; 3] = ["app", "driver", "ops"];

/// The apps' routes; `/` sends a visitor to the customer app.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(web_dir: &Path) -> Router<S> {
    if !web_dir.join("app").join("index.html").is_file() {
        tracing::warn!(
            web_dir = %web_dir.display(),
            "the apps are not built (run scripts/setup): /app/, /driver/ and /ops/ answer 404"
        );
    }
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::temporary("/app/") }))
        .nest_service("/assets", ServeDir::new(web_dir.join("assets")));
    for app in APPS {
        let index = format!("/{app}/");
        router = router
            .route(
                &format!("/{app}"),
                get(move || async move { Redirect::permanent(&index) }),
            )
            .nest_service(&format!("/{app}/"), ServeDir::new(web_dir.join(app)));
    }
    router
}
