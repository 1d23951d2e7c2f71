//! myPage is served from the read model only, so it answers while Temporal is down.

use driver_call_tests::{Api, Stores, env, unique_mobile};
use reqwest::Method;

#[tokio::test]
async fn my_page_answers_while_the_temporal_server_is_stopped() {
    let api = Api::at(&env().api);
    let stores = Stores::open().await;
    let mobile = unique_mobile();
    let call = api.create_call_for(&mobile, "Kangnam", 20000).await;
    assert_eq!(api.pay(&call).await.status, 200);
    let view = api.wait_for_status(&call, "DISPATCHED").await;
    stores.wait_for_projection(&call, &view.timeline).await;

    env().kill_server();

    let my_page = api.my_page(&call).await;
    assert_eq!(my_page.status, 200, "{:?}", my_page.body);
    assert_eq!(my_page.body.as_array().unwrap().len(), view.timeline.len());
    let listed = api
        .send(Method::GET, &format!("/dashboards?mobile={mobile}"), None)
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body[0]["status"], "DISPATCHED");
    // The workflow itself is out of reach: its view is not, and the API says so.
    let live = api
        .send(Method::GET, &format!("/calls/{}", call.call_id), None)
        .await;
    assert_eq!(live.status, 503, "{:?}", live.body);
}
