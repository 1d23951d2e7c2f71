//! `/quotes`: a customer asks what a trip costs before calling, and `/places`: the places the
//! tariff knows (spec section 9).

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Customer;
use crate::extract::AppJson;
use crate::fares::Quote;
use crate::identity::Principal;
use crate::openapi::problems::{
    BadRequest, Forbidden, Invalid, Unauthorized, Unexpected, UnsupportedMediaType,
};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_quote))
        .routes(routes!(places))
}

/// A place the tariff knows.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PlaceAnswer {
    /// The name to send as a pickup or destination.
    #[schema(example = "Seoul station")]
    name: String,
    /// The name people read (Korean).
    #[schema(example = "서울역")]
    label: String,
    /// The service area whose drivers a call from here is offered to first.
    #[schema(example = "jongro")]
    area: String,
}

/// The places the tariff knows.
///
/// In the tariff's order: what the apps offer as pickup and destination, each with the service
/// area a call from it is dispatched in.
#[utoipa::path(
    get,
    path = "/places",
    tag = "quotes",
    responses(
        (status = 200, description = "The places.", body = Vec<PlaceAnswer>),
        Unauthorized,
    ),
)]
async fn places(State(state): State<AppState>, _caller: Principal) -> Json<Vec<PlaceAnswer>> {
    let places = state.fares.tariff().places().map(|place| PlaceAnswer {
        name: place.name.clone(),
        label: place.label.clone(),
        area: place.area.clone(),
    });
    Json(places.collect())
}

/// Body of `POST /quotes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct QuoteRequest {
    /// The pickup place: a place the tariff knows, optionally followed by details.
    #[schema(example = "Seoul station exit 1")]
    location: String,
    /// The destination: a place the tariff knows.
    #[schema(example = "Kangnam station")]
    destination: String,
}

/// Quote a trip.
///
/// The fare from the tariff (base, distance, late-night surcharge, rounded to 1000 KRW, never
/// below the minimum), valid 10 minutes, for one call of the customer who asked. An unknown place
/// is 422, naming the places the tariff knows.
#[utoipa::path(
    post,
    path = "/quotes",
    tag = "calls",
    request_body = QuoteRequest,
    responses(
        (status = 201, description = "The quote.", body = Quote),
        BadRequest, UnsupportedMediaType, Invalid, Unauthorized, Forbidden, Unexpected,
    ),
)]
#[tracing::instrument(skip_all)]
async fn create_quote(
    State(state): State<AppState>,
    customer: Customer,
    AppJson(request): AppJson<QuoteRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let quote = state
        .fares
        .quote(
            &customer.mobile,
            &request.location,
            &request.destination,
            SystemTime::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(quote)))
}
