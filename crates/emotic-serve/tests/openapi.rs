//! The committed OpenAPI document and the router agree: every route the service answers is in
//! the document, every path in the document is answered, with the same methods.

mod common;

use std::collections::BTreeSet;

fn documented() -> BTreeSet<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(emotic_serve::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_document_lists_exactly_the_routes() {
    let served: BTreeSet<(String, String)> = emotic_serve::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_string(), (*p).to_string()))
        .collect();
    assert_eq!(documented(), served);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_route_is_answered_and_others_are_not() {
    let Some(config) = common::config(false) else {
        return;
    };
    let server = common::start(config);
    let client = common::client();
    for (method, path) in documented() {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client
            .request(method.clone(), format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        // Answered by the route itself: whatever it says of this empty request, it is not
        // the router's "no such route" or "wrong method".
        let status = response.status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path}: {status}");
        // And the route takes no other method.
        let other = if method == reqwest::Method::GET {
            reqwest::Method::DELETE
        } else {
            reqwest::Method::GET
        };
        let response = client
            .request(other.clone(), format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{other} {path}");
    }
    let response = client
        .get(format!("{}/v2/models", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
