//! An HTML 502 page from a proxy: retried as transient, then a typed error with the status and
//! a short, tidy excerpt of the page.

use crate::common;

use common::*;
use pixfuse_core::ErrorClass;
use pixfuse_core::endpoint::BALANCE;
use pixfuse_transport::TransportError;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const PAGE: &str = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n";

#[tokio::test]
async fn html_502_is_typed_with_excerpt() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(ResponseTemplate::new(502).set_body_raw(PAGE, "text/html"))
        .expect(4)
        .mount(&server)
        .await;
    let e = transport(&server).balance().await.unwrap_err();
    let TransportError::UnexpectedBody {
        status,
        excerpt,
        what,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*status, *what), (502, "not JSON"));
    assert!(
        excerpt.starts_with("<html> <head><title>502 Bad Gateway"),
        "{excerpt}"
    );
    assert_eq!(e.class(), Some(ErrorClass::Transient));
    assert!(e.is_retryable());
    insta::assert_snapshot!(e.to_string());
}

#[tokio::test]
async fn html_on_200_is_not_retried() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html"))
        .expect(1)
        .mount(&server)
        .await;
    let e = transport(&server).balance().await.unwrap_err();
    assert_eq!(e.status(), Some(200));
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("check that the base URL"), "{e}");
}
