//! Dispatch that reaches the right driver (spec section 9), end to end on the environment's
//! dispatch API (`OFFER_WINDOW` 3 s, `PRESENCE_TIMEOUT` 4 s, `DISPATCH_TIMEOUT` 12 s): a call's
//! area from its place, the widening tiers, availability and presence, assigned dispatch, and the
//! offers stream fed by one feed per API process.

use std::time::Duration;

use driver_call_tests::sse::{Sse, SseReader};
use driver_call_tests::{Api, driver_password, eventually, replay};
use driver_call_workflows::domain::CallView;
use reqwest::Method;
use serde_json::{Value, json};

/// Registers `username` serving only `areas` (the harness's own drivers serve every area), and
/// returns the API as them, signed in and online.
async fn driver_in(api: &Api, username: &str, areas: &[&str]) -> Api {
    let body = json!({
        "username": username,
        "name": format!("Driver {username}"),
        "mobile": "010-7777-1234",
        "password": driver_password(username),
        "areas": areas,
    });
    let registered = api
        .as_operator()
        .send(Method::POST, "/drivers", Some(body))
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let driver = api.as_driver(username);
    assert!(driver.token().await.is_some(), "{username} signs in");
    driver
}

fn unique(name: &str) -> String {
    format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A call quoted from `pickup` to Kangnam and paid: DISPATCHED.
async fn paid_call(api: &Api, pickup: &str) -> CallView {
    let customer = api.as_customer("010-2468-1357");
    let quote = customer
        .send(
            Method::POST,
            "/quotes",
            Some(json!({"location": pickup, "destination": "Kangnam"})),
        )
        .await;
    assert_eq!(quote.status, 201, "{:?}", quote.body);
    let made = customer
        .send(
            Method::POST,
            "/calls",
            Some(json!({"quoteId": quote.body["quoteId"], "payType": "CARD"})),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let call = made.view();
    assert_eq!(api.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await
}

/// Whether `driver`'s `GET /catches` lists `call`.
async fn lists(driver: &Api, call: &CallView) -> bool {
    let answer = driver.send(Method::GET, "/catches", None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    offered(&answer.body, call)
}

fn offered(list: &Value, call: &CallView) -> bool {
    let id = call.call_id.to_string();
    list.as_array()
        .is_some_and(|offers| offers.iter().any(|o| o["callId"] == id.as_str()))
}

async fn catch(driver: &Api, call: &CallView) -> u16 {
    let path = format!("/catches/{}", call.call_id);
    driver.send(Method::POST, &path, None).await.status
}

fn events(view: &CallView) -> Vec<String> {
    view.timeline
        .iter()
        .map(|e| e.event.as_str().to_owned())
        .collect()
}

fn described(view: &CallView, event: &str) -> Vec<String> {
    view.timeline
        .iter()
        .filter(|e| e.event.as_str() == event)
        .map(|e| e.description.clone())
        .collect()
}

async fn set_online(driver: &Api, online: bool) {
    let answer = driver
        .send(
            Method::PUT,
            "/drivers/me/availability",
            Some(json!({"online": online})),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["online"], online);
}

#[tokio::test]
async fn the_places_list_names_each_place_with_its_area() {
    let api = Api::dispatch_limits();
    let answer = api
        .as_customer("010-2468-1357")
        .send(Method::GET, "/places", None)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let seoul = answer.body.as_array().and_then(|places| {
        places
            .iter()
            .find(|p| p["name"] == "Seoul station")
            .cloned()
    });
    let seoul = seoul.expect("Seoul station is listed");
    assert_eq!(seoul["area"], "jongro");
    assert_eq!(seoul["label"], "서울역");
    let anonymous = api.anonymous().send(Method::GET, "/places", None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_call_from_seoul_station_is_dispatched_in_jongro_and_caught_there() {
    let api = Api::dispatch_limits();
    let jongro = unique("jongro");
    let jongro_driver = driver_in(&api, &jongro, &["jongro"]).await;
    let call = paid_call(&api, "Seoul station").await;
    assert_eq!(
        described(&call, "CallReceived"),
        ["Offered to drivers in jongro"]
    );
    assert!(lists(&jongro_driver, &call).await);
    assert_eq!(catch(&jongro_driver, &call).await, 200);
    api.drive_home(&call, &jongro).await;
}

#[tokio::test]
async fn an_unclaimed_offer_widens_to_the_neighbours_then_to_everyone() {
    let api = Api::dispatch_limits();
    let mapo = driver_in(&api, &unique("mapo"), &["mapo"]).await;
    let dongjak = driver_in(&api, &unique("dongjak"), &["dongjak"]).await;
    let far = unique("busan");
    let busan = driver_in(&api, &far, &["busan"]).await;
    // Hongdae is in mapo, whose neighbours are dongjak and jongro.
    let call = paid_call(&api, "Hongdae").await;
    assert!(lists(&mapo, &call).await, "its own area sees it at once");
    assert!(!lists(&dongjak, &call).await, "a neighbour not yet");
    assert_eq!(catch(&dongjak, &call).await, 404, "nor may it catch");

    let widened = api.wait_for_event(&call, "OfferWidened").await;
    assert_eq!(
        described(&widened, "OfferWidened"),
        ["Offer widened to dongjak, jongro"]
    );
    assert!(lists(&dongjak, &call).await, "the neighbour sees it now");
    assert!(!lists(&busan, &call).await, "a far area not yet");
    assert_eq!(catch(&busan, &call).await, 404);

    let everyone = eventually(Duration::from_secs(10), "the second widening", || async {
        let view = api.get_call(&call).await;
        (described(&view, "OfferWidened").len() == 2).then_some(view)
    })
    .await;
    assert_eq!(
        described(&everyone, "OfferWidened")[1],
        "Offer widened to every available driver"
    );
    assert!(lists(&busan, &call).await, "every available driver sees it");
    assert_eq!(catch(&busan, &call).await, 200);
    assert!(
        !lists(&mapo, &call).await,
        "a caught call leaves every list"
    );
    api.drive_home(&call, &far).await;
    let done = api.get_call(&call).await;
    let widenings = events(&done)
        .iter()
        .filter(|e| *e == "OfferWidened")
        .count();
    assert_eq!(widenings, 2, "{:?}", events(&done));
    replay::check_and_record(&done, "widened_then_caught").await;
}

#[tokio::test]
async fn a_call_nobody_catches_widens_twice_and_still_expires_at_the_dispatch_timeout() {
    let api = Api::dispatch_limits();
    let call = paid_call(&api, "Nowon").await;
    let expired = eventually(Duration::from_secs(30), "the expiry", || async {
        let view = api.get_call(&call).await;
        let refunded = events(&view).iter().any(|e| e == "PaymentCancelled");
        (view.status.as_str() == "EXPIRED" && refunded).then_some(view)
    })
    .await;
    // nowon's only neighbour is jongro.
    assert_eq!(
        described(&expired, "OfferWidened"),
        [
            "Offer widened to jongro",
            "Offer widened to every available driver"
        ]
    );
    let made = humantime::parse_rfc3339(&expired.timeline[0].at).unwrap();
    let ended = expired
        .timeline
        .iter()
        .find(|e| e.event.as_str() == "CallExpired")
        .map(|e| humantime::parse_rfc3339(&e.at).unwrap())
        .expect("CallExpired");
    let waited = ended.duration_since(made).unwrap();
    assert!(
        (Duration::from_secs(12)..Duration::from_secs(16)).contains(&waited),
        "expired after {waited:?}"
    );
    replay::check_and_record(&expired, "widened_then_expired").await;
}

#[tokio::test]
async fn only_available_drivers_see_and_catch_offers() {
    let api = Api::dispatch_limits();
    let kim = unique("kim");
    let driver = driver_in(&api, &kim, &["kangnam"]).await;
    set_online(&driver, false).await;
    let call = paid_call(&api, "Kangnam station").await;
    assert!(!lists(&driver, &call).await, "offline: no offers");
    assert_eq!(catch(&driver, &call).await, 404, "offline: no catch");
    set_online(&driver, true).await;
    assert!(lists(&driver, &call).await, "online again: it is there");
    assert_eq!(catch(&driver, &call).await, 200);

    // On a call, a driver gets no other offer.
    let second = paid_call(&api, "Kangnam station").await;
    assert!(!lists(&driver, &second).await, "busy: no offers");
    assert_eq!(catch(&driver, &second).await, 404);
    api.drive_home(&call, &kim).await;
    eventually(
        Duration::from_secs(10),
        "the free driver's offers",
        || async { lists(&driver, &second).await.then_some(()) },
    )
    .await;
    assert_eq!(api.cancel(&second).await.status, 202);
}

#[tokio::test]
async fn a_driver_not_heard_from_goes_offline_until_they_go_online_again() {
    let api = Api::dispatch_limits();
    let lee = unique("lee");
    let driver = driver_in(&api, &lee, &["mapo"]).await;
    let me = driver.send(Method::GET, "/drivers/me", None).await;
    assert_eq!(me.body["online"], true);
    // Silence for PRESENCE_TIMEOUT (the operator's list says so without a word from the driver).
    let ops = api.as_operator();
    eventually(
        Duration::from_secs(15),
        "the driver to be offline",
        || async {
            let list = ops.send(Method::GET, "/drivers", None).await;
            let online = list.body.as_array().and_then(|drivers| {
                drivers
                    .iter()
                    .find(|d| d["username"] == lee.as_str())
                    .map(|d| d["online"].clone())
            });
            (online == Some(Value::Bool(false))).then_some(())
        },
    )
    .await;
    // A word from them now does not bring them back: they are offline until they go online.
    let me = driver.send(Method::GET, "/drivers/me", None).await;
    assert_eq!(me.body["online"], false, "{:?}", me.body);
    let call = paid_call(&api, "Mapo").await;
    assert!(!lists(&driver, &call).await);
    let again = driver.send(Method::GET, "/drivers/me", None).await;
    assert_eq!(
        again.body["online"], false,
        "still offline: {:?}",
        again.body
    );
    set_online(&driver, true).await;
    assert!(lists(&driver, &call).await);
    assert_eq!(api.cancel(&call).await.status, 202);
}

/// Opens `driver`'s offers stream.
async fn offers_stream(api: &Api, driver: &Api) -> SseReader {
    let token = driver.token().await.expect("a token");
    let response = reqwest::Client::new()
        .get(format!("{}/catches/events", api.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(response.status(), 200);
    SseReader::new(response)
}

fn availability(event: &Sse) -> Option<bool> {
    (event.event == "availability").then(|| event.data["online"] == true)
}

#[tokio::test]
async fn the_offers_stream_follows_offers_and_availability_and_ends_for_a_disabled_driver() {
    let api = Api::dispatch_limits();
    let park = unique("park");
    let driver = driver_in(&api, &park, &["bundang"]).await;
    let mut stream = offers_stream(&api, &driver).await;
    assert_eq!(stream.next().await.event, "offers", "the list first");
    let first = stream.until(|e| e.event == "availability").await;
    assert_eq!(availability(&first), Some(true));

    let call = paid_call(&api, "Pangyo").await;
    stream
        .until(|e| e.event == "offers" && offered(&e.data, &call))
        .await;
    set_online(&driver, false).await;
    // Both come, the list first: an empty one, and availability false.
    let emptied = stream.until(|e| e.event == "offers").await;
    assert!(!offered(&emptied.data, &call), "offline: the list is empty");
    let offline = stream.until(|e| availability(e).is_some()).await;
    assert_eq!(availability(&offline), Some(false));
    set_online(&driver, true).await;
    stream
        .until(|e| e.event == "offers" && offered(&e.data, &call))
        .await;
    // The open stream keeps its driver heard from, however long: the time under test here is
    // PRESENCE_TIMEOUT itself (4 s), with the driver saying nothing but watching.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let ops = api.as_operator();
    let me = driver.send(Method::GET, "/drivers/me", None).await;
    assert_eq!(me.body["online"], true, "watching counts: {:?}", me.body);

    let path = format!("/drivers/{park}/disable");
    assert_eq!(ops.send(Method::POST, &path, None).await.status, 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if stream.try_next().await.is_none() {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a disabled driver's stream ends within 5 s");
    assert_eq!(api.cancel(&call).await.status, 202);
}

#[tokio::test]
async fn an_operator_assigns_an_open_call_to_an_available_driver() {
    let api = Api::dispatch_limits();
    let ops = api.as_operator();
    let choi = unique("choi");
    let assignee = driver_in(&api, &choi, &["nowon"]).await;
    let call = paid_call(&api, "Gwanghwamun").await;
    let path = format!("/catches/{}/assign", call.call_id);

    let refused = assignee
        .send(Method::POST, &path, Some(json!({"driverId": choi})))
        .await;
    assert_eq!(refused.status, 403, "only operators assign");
    let nobody = ops
        .send(
            Method::POST,
            &path,
            Some(json!({"driverId": "nobody-at-all"})),
        )
        .await;
    assert_eq!(nobody.status, 422, "{:?}", nobody.body);
    set_online(&assignee, false).await;
    let offline = ops
        .send(Method::POST, &path, Some(json!({"driverId": choi})))
        .await;
    assert_eq!(offline.status, 409, "{:?}", offline.body);
    set_online(&assignee, true).await;

    // Gwanghwamun is jongro's; the operator may give it to a nowon driver all the same.
    let assigned = ops
        .send(Method::POST, &path, Some(json!({"driverId": choi})))
        .await;
    assert_eq!(assigned.status, 200, "{:?}", assigned.body);
    let view = assigned.view();
    assert_eq!(view.status.as_str(), "CAUGHT");
    let names = events(&view);
    assert_eq!(names[names.len() - 2..], ["CallAssigned", "CallCaught"]);
    assert_eq!(
        described(&view, "CallAssigned"),
        [format!(
            "Assigned to Driver {choi} ({choi}) by operator ops"
        )]
    );
    let again = ops
        .send(Method::POST, &path, Some(json!({"driverId": choi})))
        .await;
    assert_eq!(again.status, 409, "not open any more: {:?}", again.body);
    api.drive_home(&call, &choi).await;
    replay::check_and_record(&api.get_call(&call).await, "assigned").await;
}

#[tokio::test]
async fn ten_drivers_across_three_tiers_and_an_assign_race_for_one_call_and_one_wins() {
    let api = Api::dispatch_limits();
    let mut racers = Vec::new();
    for (area, count) in [("mapo", 4), ("dongjak", 3), ("busan", 3)] {
        for i in 0..count {
            let name = unique(&format!("race-{area}-{i}"));
            racers.push(driver_in(&api, &name, &[area]).await);
        }
    }
    let assignee = unique("race-assignee");
    let _assignee = driver_in(&api, &assignee, &["mapo"]).await;
    let call = paid_call(&api, "Mapo").await;
    let ops = api.as_operator();
    let path = format!("/catches/{}/assign", call.call_id);
    let assign = ops.send(Method::POST, &path, Some(json!({"driverId": assignee})));
    let catches = futures::future::join_all(racers.iter().map(|driver| catch(driver, &call)));
    let (assigned, caught) = futures::join!(assign, catches);
    let mut statuses = caught;
    statuses.push(assigned.status);
    let winners = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(winners, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 404, 409].contains(s)),
        "{statuses:?}"
    );
    // The dongjak and busan drivers were not offered the call yet: 404, whatever the race.
    assert!(statuses[4..10].iter().all(|s| *s == 404), "{statuses:?}");
    for driver in &racers {
        let gone = eventually(Duration::from_secs(10), "the offer to leave", || async {
            (!lists(driver, &call).await).then_some(())
        });
        gone.await;
    }
    let view = api.wait_for_status(&call, "CAUGHT").await;
    assert_eq!(
        events(&view).iter().filter(|e| *e == "CallCaught").count(),
        1
    );
    assert_eq!(api.cancel(&call).await.status, 202);
}
