//! The conformance suite: what a hostile or merely careless client sends, as raw bytes (RFC
//! 9112 framing and smuggling) and raw HTTP/2 frames (RFC 9113 §3.4–§8, RFC 7541), and the
//! floods, against every host. Each case is named after the section it checks (`rfc9113_6_5_…`
//! is RFC 9113 §6.5) and says what that section requires.
//!
//! Where the h2 crate answers otherwise than the RFC requires, the case is a `deviation_…`:
//! it asserts only that the server refuses or survives, and the difference is written down in
//! docs/conformance.md, not asserted as correct.
//!
//! Loopback only, every flood bounded; each case takes well under a second.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::frames::{self, Conn, Outcome};
use common::{read_until_closed, start_with, Proto, RuntimeKind, TestServer};
use frames::{
    frame, headers, settings, window_update, ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM,
    ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, HEADERS, NO_ERROR, PADDED,
    PING, PRIORITY, PROTOCOL_ERROR, PUSH_PROMISE, REFUSED_STREAM, RST_STREAM, SETTINGS,
};
use http_body_util::Full;
use hyper::{Request, StatusCode};
use server::Config;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// The server every case runs against: defaults, with a short shutdown.
fn server(host: RuntimeKind) -> TestServer {
    start_with(
        host,
        Config {
            shutdown_timeout: Duration::from_secs(2),
            ..Config::default()
        },
    )
}

/// Sends `bytes` on a fresh connection and reads until the server closes it (at most 5 s):
/// the reply, and whether the connection was closed.
async fn h1(addr: SocketAddr, bytes: &[u8]) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close before it has read it all; what it answered is still readable.
    let _ = stream.write_all(bytes).await;
    match read_until_closed(&mut stream, Duration::from_secs(5)).await {
        Some(reply) => (String::from_utf8_lossy(&reply).into_owned(), true),
        None => (String::new(), false),
    }
}

/// The status codes of every response in `reply`, in order.
fn statuses(reply: &str) -> Vec<u16> {
    reply
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .collect()
}

/// The value of header `name` in the first response of `reply`.
fn header<'r>(reply: &'r str, name: &str) -> Option<&'r str> {
    let head = reply.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Asserts `bytes` is answered `400` and the connection closed.
async fn assert_400_and_closed(addr: SocketAddr, bytes: &[u8]) {
    let (reply, closed) = h1(addr, bytes).await;
    assert_eq!(
        statuses(&reply).first(),
        Some(&400),
        "{:?}: {reply}",
        String::from_utf8_lossy(bytes)
    );
    assert!(closed, "still open after: {reply}");
}

/// One raw HTTP/2 case: open a connection, send `bytes`, return what the server did about
/// `stream`.
async fn h2(addr: SocketAddr, bytes: &[u8], stream: u32) -> Outcome {
    let mut conn = Conn::open(addr).await;
    conn.send(bytes).await;
    conn.outcome(stream).await
}

/// After a case, the server still answers a fresh client over both protocols.
async fn still_serving(server: &TestServer) {
    for proto in Proto::ALL {
        let reply = common::get(proto, &server.url("/healthz")).await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
    }
}

host_tests!(
    rfc9112_3_2_missing_host_is_400_and_closed,
    rfc9112_3_2_duplicate_host_is_400_and_closed,
    rfc9112_3_2_invalid_host_is_400_and_closed,
    rfc9112_3_2_valid_hosts_are_served,
    rfc9113_8_3_1_host_differing_from_authority_is_400_on_the_stream,
    rfc9110_9_3_6_connect_is_405_with_allow,
    rfc9110_9_3_8_trace_is_405_with_allow,
    rfc9110_9_3_7_options_star_is_200_with_allow,
    rfc9113_3_4_an_invalid_preface_closes_the_connection,
    deviation_rfc9113_3_4_preface_then_ping_instead_of_settings,
    rfc9113_4_1_unknown_frame_types_are_ignored,
    rfc9113_4_1_unknown_flags_are_ignored,
    rfc9113_4_1_the_reserved_stream_bit_is_ignored,
    rfc9113_4_2_data_over_max_frame_size_is_frame_size_error,
    rfc9113_4_2_headers_over_max_frame_size_is_frame_size_error,
    deviation_rfc9113_4_3_an_undecodable_header_block,
    rfc9113_5_1_data_on_an_idle_stream_is_protocol_error,
    rfc9113_5_1_1_an_even_stream_id_from_a_client_is_protocol_error,
    rfc9113_5_1_1_a_decreasing_stream_id_is_protocol_error,
    rfc9113_5_1_rst_stream_on_an_idle_stream_is_protocol_error,
    rfc9113_5_1_window_update_on_an_idle_stream_is_protocol_error,
    deviation_rfc9113_5_1_data_after_end_stream,
    rfc9113_5_1_2_streams_over_the_limit_are_refused,
    rfc9113_5_3_1_a_stream_depending_on_itself_is_protocol_error,
    rfc9113_6_1_data_on_stream_0_is_protocol_error,
    rfc9113_6_1_data_padding_longer_than_the_frame_is_protocol_error,
    rfc9113_6_2_headers_on_stream_0_is_protocol_error,
    rfc9113_6_2_headers_padding_longer_than_the_frame_is_protocol_error,
    rfc9113_6_3_priority_on_stream_0_is_protocol_error,
    deviation_rfc9113_6_3_priority_of_the_wrong_length,
    rfc9113_6_4_rst_stream_on_stream_0_is_protocol_error,
    deviation_rfc9113_6_4_rst_stream_of_the_wrong_length,
    deviation_rfc9113_6_5_settings_ack_with_a_payload,
    rfc9113_6_5_settings_on_a_stream_is_protocol_error,
    deviation_rfc9113_6_5_settings_not_a_multiple_of_6,
    rfc9113_6_5_2_enable_push_other_than_0_or_1_is_protocol_error,
    deviation_rfc9113_6_5_2_initial_window_over_2_31,
    rfc9113_6_5_2_max_frame_size_below_16384_is_protocol_error,
    rfc9113_6_5_2_max_frame_size_over_2_24_is_protocol_error,
    rfc9113_6_5_2_unknown_settings_are_ignored,
    rfc9113_6_5_3_the_server_acknowledges_settings,
    rfc9113_6_7_ping_is_answered_with_the_same_payload,
    rfc9113_6_7_ping_on_a_stream_is_protocol_error,
    deviation_rfc9113_6_7_ping_of_the_wrong_length,
    rfc9113_6_8_goaway_on_a_stream_is_protocol_error,
    rfc9113_6_8_a_client_goaway_ends_the_connection_cleanly,
    rfc9113_6_9_a_zero_connection_window_increment_is_protocol_error,
    rfc9113_6_9_a_zero_stream_window_increment_is_protocol_error,
    deviation_rfc9113_6_9_window_update_of_the_wrong_length,
    rfc9113_6_9_1_connection_window_overflow_is_flow_control_error,
    rfc9113_6_9_1_stream_window_overflow_is_flow_control_error,
    rfc9113_6_9_2_a_zero_initial_window_holds_data_until_window_update,
    rfc9113_6_10_continuation_without_headers_is_protocol_error,
    rfc9113_6_10_continuation_on_another_stream_is_protocol_error,
    rfc9113_6_10_a_frame_inside_a_header_block_is_protocol_error,
    rfc9113_6_10_a_header_block_in_continuations_is_served,
    rfc9113_8_1_1_content_length_not_matching_data_is_malformed,
    deviation_rfc9113_8_1_a_pseudo_header_in_trailers,
    rfc9113_8_2_an_uppercase_field_name_is_malformed,
    rfc9113_8_2_2_a_connection_specific_field_is_malformed,
    rfc9113_8_2_2_te_other_than_trailers_is_malformed,
    deviation_rfc9113_8_2_1_a_field_value_with_a_leading_space,
    rfc9113_8_3_1_a_missing_method_is_malformed,
    rfc9113_8_3_1_a_missing_path_is_malformed,
    rfc9113_8_3_1_a_missing_scheme_is_malformed,
    rfc9113_8_3_1_an_empty_path_is_malformed,
    rfc9113_8_3_an_unknown_pseudo_header_is_malformed,
    rfc9113_8_3_a_pseudo_header_after_a_regular_field_is_malformed,
    rfc9113_8_3_a_duplicated_pseudo_header_is_malformed,
    rfc9113_8_3_2_a_response_pseudo_header_in_a_request_is_malformed,
    rfc9113_8_4_a_client_push_promise_is_protocol_error,
    deviation_rfc7541_2_3_3_index_0_is_a_decoding_error,
    deviation_rfc7541_5_1_an_integer_overflow_is_a_decoding_error,
    rfc7541_6_1_static_table_indexes_are_decoded,
    rfc7541_6_2_1_the_dynamic_table_carries_across_requests,
    flood_rfc9113_10_5_rapid_reset_is_cut_off,
    flood_rfc9113_10_5_continuation_flood_is_cut_off,
    flood_rfc7541_7_hpack_bomb_is_refused,
    flood_rfc9113_10_5_ping_flood_is_survived,
    flood_rfc9113_10_5_settings_flood_is_survived,
    flood_rfc9113_10_5_empty_data_flood_is_survived,
    flood_rfc9113_10_5_window_update_flood_is_survived,
    flood_rfc9112_slowloris_is_closed_at_the_header_read_timeout,
    flood_rfc9112_a_thousand_tiny_headers_are_431,
    rfc9112_6_3_differing_content_lengths_are_400,
    rfc9112_6_3_a_content_length_list_of_differing_values_is_400,
    rfc9112_6_3_an_invalid_content_length_is_400,
    rfc9112_6_1_chunked_not_last_is_400,
    rfc9112_6_1_an_unknown_transfer_coding_is_refused,
    rfc9112_7_1_an_invalid_chunk_size_is_refused,
    rfc9112_7_1_a_chunk_size_overflow_is_refused,
    rfc9112_7_1_chunk_data_longer_than_its_size_is_refused,
    rfc9112_7_1_1_chunk_extensions_are_accepted,
    rfc9112_7_1_2_trailers_are_accepted,
    rfc9112_5_2_obs_fold_is_400,
    rfc9112_5_1_whitespace_before_the_colon_is_400,
    rfc9112_2_2_bare_lf_line_endings_are_accepted,
    rfc9112_2_2_a_bare_cr_is_400,
    rfc9112_2_2_whitespace_before_the_first_header_is_400,
    rfc9112_3_a_malformed_request_line_is_400,
    rfc9112_2_3_an_unknown_major_version_is_refused,
    rfc9112_3_2_2_an_absolute_form_target_is_served,
    rfc9112_5_a_nul_in_a_field_value_is_400,
    rfc9112_3_a_request_target_over_the_head_limit_is_refused,
    rfc9112_9_3_2_pipelined_requests_are_answered_in_order,
    rfc9112_9_6_connection_close_is_honoured,
    rfc9110_10_1_1_expect_100_continue_gets_100_then_the_answer,
    rfc9110_9_3_2_head_has_no_body,
    deviation_rfc7541_2_3_3_an_index_past_both_tables_is_a_decoding_error,
    deviation_rfc7541_4_2_a_table_size_update_over_the_limit_is_a_decoding_error,
    deviation_rfc7541_4_2_a_table_size_update_after_a_field_is_a_decoding_error,
    deviation_rfc7541_5_2_huffman_padding_longer_than_7_bits_is_a_decoding_error,
    rfc9112_6_1_content_length_with_transfer_encoding_is_answered_once_and_closed,
);

// --- Host, CONNECT, TRACE, OPTIONS (the server's own rules: src/validate.rs) ---------------

async fn rfc9112_3_2_missing_host_is_400_and_closed(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\n\r\n").await;
    still_serving(&server).await;
}

async fn rfc9112_3_2_duplicate_host_is_400_and_closed(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").await;
    // The same value twice is still two Host lines.
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n").await;
}

async fn rfc9112_3_2_invalid_host_is_400_and_closed(host: RuntimeKind) {
    let server = server(host);
    for bad in ["bad host/../x", "a/b", "x:80a", "[::1", "user@host"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_400_and_closed(server.addr, request.as_bytes()).await;
    }
}

async fn rfc9112_3_2_valid_hosts_are_served(host: RuntimeKind) {
    let server = server(host);
    for good in [
        "localhost",
        "127.0.0.1:3000",
        "[::1]:8080",
        "example.com",
        "",
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {good}\r\nConnection: close\r\n\r\n");
        let (reply, _) = h1(server.addr, request.as_bytes()).await;
        assert_eq!(statuses(&reply), [200], "{good:?}: {reply}");
    }
    // HTTP/1.0 predates Host.
    let (reply, _) = h1(server.addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert!(
        reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"),
        "{reply}"
    );
}

async fn rfc9113_8_3_1_host_differing_from_authority_is_400_on_the_stream(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    let differing = frames::request("GET", "/", &[("host", "elsewhere.test")]);
    conn.send(&frames::headers(1, &differing, true)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(400)));
    // The same name in either case agrees; the connection goes on.
    let agreeing = frames::request("GET", "/", &[("host", "LOCALHOST")]);
    conn.send(&frames::headers(3, &agreeing, true)).await;
    assert_eq!(conn.outcome(3).await, Outcome::Response(Some(200)));
}

/// `method` over HTTP/1.1 (raw) and HTTP/2 (the h2 crate) is 405 with `Allow`.
async fn assert_405_with_allow(server: &TestServer, method: &str, target: &str) {
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let (reply, _) = h1(server.addr, request.as_bytes()).await;
    assert_eq!(statuses(&reply).first(), Some(&405), "{reply}");
    assert!(
        header(&reply, "allow").is_some_and(|a| a.contains("GET")),
        "{reply}"
    );

    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let uri = if method == "CONNECT" {
        target.to_owned()
    } else {
        server.url(target)
    };
    let request = Request::builder().method(method).uri(uri).body(()).unwrap();
    let (response, _) = client.send_request(request, method != "CONNECT").unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("no HTTP/2 answer")
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "{method}"
    );
    assert!(response.headers().contains_key("allow"), "{method}");
}

async fn rfc9110_9_3_6_connect_is_405_with_allow(host: RuntimeKind) {
    let server = server(host);
    assert_405_with_allow(&server, "CONNECT", "localhost:443").await;
    still_serving(&server).await;
}

async fn rfc9110_9_3_8_trace_is_405_with_allow(host: RuntimeKind) {
    let server = server(host);
    assert_405_with_allow(&server, "TRACE", "/").await;
    // And through hyper's client on both protocols.
    for proto in Proto::ALL {
        let request = Request::builder()
            .method("TRACE")
            .uri(server.url("/"))
            .body(Full::default())
            .unwrap();
        let reply = common::send(proto, request).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{proto:?}");
    }
}

async fn rfc9110_9_3_7_options_star_is_200_with_allow(host: RuntimeKind) {
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert!(
        header(&reply, "allow").is_some_and(|a| a.contains("OPTIONS")),
        "{reply}"
    );
    let outcome = h2(
        server.addr,
        &frames::headers(1, &frames::request("OPTIONS", "*", &[]), true),
        1,
    )
    .await;
    assert_eq!(outcome, Outcome::Response(Some(200)));
}

// --- RFC 9113: HTTP/2, raw frames -----------------------------------------------------------

/// Opens a connection on a fresh server, sends `bytes`, and returns what happened to stream 1;
/// then checks the server still serves others.
async fn h2_case(host: RuntimeKind, bytes: &[u8]) -> Outcome {
    let server = server(host);
    let outcome = h2(server.addr, bytes, 1).await;
    still_serving(&server).await;
    outcome
}

/// HEADERS opening stream `id` with a POST to `path`, not ending it.
fn post(id: u32, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    headers(id, &frames::request("POST", path, extra), false)
}

/// A stream error or a connection error with `code`.
fn refused_with(outcome: &Outcome, code: u32) -> bool {
    matches!(outcome, Outcome::Reset(c) | Outcome::GoAway(c) if *c == code)
}

async fn rfc9113_3_4_an_invalid_preface_closes_the_connection(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::raw(server.addr, b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n").await;
    let (_, closed) = conn.until_closed(Duration::from_secs(5)).await;
    assert!(closed, "still open after a broken preface");
    still_serving(&server).await;
}

async fn deviation_rfc9113_3_4_preface_then_ping_instead_of_settings(host: RuntimeKind) {
    // RFC: the preface MUST be followed by SETTINGS (PROTOCOL_ERROR otherwise). h2 accepts a
    // PING first; only survival is asserted (docs/conformance.md).
    let server = server(host);
    let mut bytes = frames::PREFACE.to_vec();
    bytes.extend(frame(PING, 0, 0, &[0; 8]));
    let mut conn = Conn::raw(server.addr, &bytes).await;
    let outcome = conn.outcome(1).await;
    eprintln!("{host:?}: preface + PING: {outcome:?}");
    still_serving(&server).await;
}

async fn rfc9113_4_1_unknown_frame_types_are_ignored(host: RuntimeKind) {
    let mut bytes = frame(0xfa, 0, 0, b"whatever");
    bytes.extend(frame(0xfb, 0xff, 1, b"on an idle stream"));
    bytes.extend(frames::get(1));
    assert_eq!(h2_case(host, &bytes).await, Outcome::Response(Some(200)));
}

async fn rfc9113_4_1_unknown_flags_are_ignored(host: RuntimeKind) {
    let flags = END_STREAM | END_HEADERS | 0x02 | 0x10 | 0x40 | 0x80;
    let bytes = frame(HEADERS, flags, 1, &frames::request("GET", "/", &[]));
    assert_eq!(h2_case(host, &bytes).await, Outcome::Response(Some(200)));
}

async fn rfc9113_4_1_the_reserved_stream_bit_is_ignored(host: RuntimeKind) {
    let bytes = frame(
        HEADERS,
        END_STREAM | END_HEADERS,
        1 | 0x8000_0000,
        &frames::request("GET", "/", &[]),
    );
    assert_eq!(h2_case(host, &bytes).await, Outcome::Response(Some(200)));
}

async fn rfc9113_4_2_data_over_max_frame_size_is_frame_size_error(host: RuntimeKind) {
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(frame(DATA, END_STREAM, 1, &[b'x'; 16_385]));
    let outcome = h2_case(host, &bytes).await;
    assert!(refused_with(&outcome, FRAME_SIZE_ERROR), "{outcome:?}");
}

async fn rfc9113_4_2_headers_over_max_frame_size_is_frame_size_error(host: RuntimeKind) {
    let block = frames::request("GET", "/", &[("x-big", &"b".repeat(16_400))]);
    let outcome = h2_case(host, &headers(1, &block, true)).await;
    assert!(refused_with(&outcome, FRAME_SIZE_ERROR), "{outcome:?}");
}

async fn deviation_rfc9113_4_3_an_undecodable_header_block(host: RuntimeKind) {
    // RFC: COMPRESSION_ERROR (a connection error). h2 says PROTOCOL_ERROR.
    let outcome = h2_case(host, &headers(1, &[0xff; 8], true)).await;
    eprintln!("{host:?}: garbage HPACK: {outcome:?}");
    assert!(outcome.is_connection_error(), "{outcome:?}");
}

async fn rfc9113_5_1_data_on_an_idle_stream_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frame(DATA, END_STREAM, 1, b"early")).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_5_1_1_an_even_stream_id_from_a_client_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frames::get(2)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_5_1_1_a_decreasing_stream_id_is_protocol_error(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    conn.send(&frames::get(5)).await;
    assert_eq!(conn.outcome(5).await, Outcome::Response(Some(200)));
    conn.send(&frames::get(3)).await;
    assert_eq!(conn.outcome(3).await, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_5_1_rst_stream_on_an_idle_stream_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frames::rst_stream(1, frames::CANCEL)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_5_1_window_update_on_an_idle_stream_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &window_update(1, 100)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn deviation_rfc9113_5_1_data_after_end_stream(host: RuntimeKind) {
    // RFC: STREAM_CLOSED; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    let slow = frames::request("GET", "/sleep?ms=300", &[]);
    conn.send(&headers(1, &slow, true)).await;
    conn.send(&frame(DATA, 0, 1, b"after the end")).await;
    let outcome = conn.outcome(1).await;
    eprintln!("{host:?}: deviation_rfc9113_5_1_data_after_end_stream: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_5_1_2_streams_over_the_limit_are_refused(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            h2_max_concurrent_streams: 2,
            ..Config::default()
        },
    );
    let mut conn = Conn::open(server.addr).await;
    for id in [1, 3, 5] {
        let slow = frames::request("GET", "/sleep?ms=500", &[]);
        conn.send(&headers(id, &slow, true)).await;
    }
    let outcome = conn.outcome(5).await;
    assert!(
        refused_with(&outcome, REFUSED_STREAM) || refused_with(&outcome, PROTOCOL_ERROR),
        "{outcome:?}"
    );
}

async fn rfc9113_5_3_1_a_stream_depending_on_itself_is_protocol_error(host: RuntimeKind) {
    let mut bytes = frames::get(1);
    bytes.extend(frame(PRIORITY, 0, 3, &[0, 0, 0, 3, 16]));
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    conn.send(&bytes).await;
    let outcome = conn.outcome(3).await;
    assert!(refused_with(&outcome, PROTOCOL_ERROR), "{outcome:?}");
}

async fn rfc9113_6_1_data_on_stream_0_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frame(DATA, 0, 0, b"x")).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_1_data_padding_longer_than_the_frame_is_protocol_error(host: RuntimeKind) {
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(frame(DATA, END_STREAM | PADDED, 1, &[10, b'x', b'y']));
    let outcome = h2_case(host, &bytes).await;
    assert!(refused_with(&outcome, PROTOCOL_ERROR), "{outcome:?}");
}

async fn rfc9113_6_2_headers_on_stream_0_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frames::get(0)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_2_headers_padding_longer_than_the_frame_is_protocol_error(host: RuntimeKind) {
    let block = frames::request("GET", "/", &[]);
    let mut payload = vec![200u8];
    payload.extend(&block);
    let flags = END_STREAM | END_HEADERS | PADDED;
    let outcome = h2_case(host, &frame(HEADERS, flags, 1, &payload)).await;
    assert!(refused_with(&outcome, PROTOCOL_ERROR), "{outcome:?}");
}

async fn rfc9113_6_3_priority_on_stream_0_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frame(PRIORITY, 0, 0, &[0, 0, 0, 1, 16])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn deviation_rfc9113_6_3_priority_of_the_wrong_length(host: RuntimeKind) {
    // RFC: FRAME_SIZE_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let outcome = h2_case(host, &frame(PRIORITY, 0, 1, &[0, 0, 0, 3])).await;
    eprintln!("{host:?}: deviation_rfc9113_6_3_priority_of_the_wrong_length: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_6_4_rst_stream_on_stream_0_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frames::rst_stream(0, frames::CANCEL)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn deviation_rfc9113_6_4_rst_stream_of_the_wrong_length(host: RuntimeKind) {
    // RFC: FRAME_SIZE_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(frame(RST_STREAM, 0, 1, &[0, 0, 0, 8, 0]));
    let outcome = h2_case(host, &bytes).await;
    eprintln!("{host:?}: deviation_rfc9113_6_4_rst_stream_of_the_wrong_length: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn deviation_rfc9113_6_5_settings_ack_with_a_payload(host: RuntimeKind) {
    // RFC: FRAME_SIZE_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let outcome = h2_case(host, &frame(SETTINGS, ACK, 0, &[0, 3, 0, 0, 0, 1])).await;
    eprintln!("{host:?}: deviation_rfc9113_6_5_settings_ack_with_a_payload: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_6_5_settings_on_a_stream_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frame(SETTINGS, 0, 1, &[])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn deviation_rfc9113_6_5_settings_not_a_multiple_of_6(host: RuntimeKind) {
    // RFC: FRAME_SIZE_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let outcome = h2_case(host, &frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0])).await;
    eprintln!("{host:?}: deviation_rfc9113_6_5_settings_not_a_multiple_of_6: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_6_5_2_enable_push_other_than_0_or_1_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &settings(&[(frames::ENABLE_PUSH, 2)])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn deviation_rfc9113_6_5_2_initial_window_over_2_31(host: RuntimeKind) {
    // RFC: FLOW_CONTROL_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let outcome = h2_case(host, &settings(&[(frames::INITIAL_WINDOW_SIZE, 1 << 31)])).await;
    eprintln!("{host:?}: deviation_rfc9113_6_5_2_initial_window_over_2_31: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_6_5_2_max_frame_size_below_16384_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &settings(&[(frames::MAX_FRAME_SIZE, 16_383)])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_5_2_max_frame_size_over_2_24_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &settings(&[(frames::MAX_FRAME_SIZE, 1 << 24)])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_5_2_unknown_settings_are_ignored(host: RuntimeKind) {
    let mut bytes = settings(&[(0x7777, 42), (frames::HEADER_TABLE_SIZE, 0)]);
    bytes.extend(frames::get(1));
    assert_eq!(h2_case(host, &bytes).await, Outcome::Response(Some(200)));
}

async fn rfc9113_6_5_3_the_server_acknowledges_settings(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    conn.send(&settings(&[(frames::MAX_CONCURRENT_STREAMS, 10)]))
        .await;
    conn.send(&frames::get(1)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(200)));
    let acks = conn
        .seen
        .iter()
        .filter(|f| f.kind == SETTINGS && f.flags & ACK != 0)
        .count();
    assert!(acks >= 1, "no SETTINGS ACK: {:?}", conn.seen);
}

async fn rfc9113_6_7_ping_is_answered_with_the_same_payload(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    // An ACK from the client is not answered; the plain PING is, with its payload.
    conn.send(&frame(PING, ACK, 0, b"notreply")).await;
    conn.send(&frame(PING, 0, 0, b"12345678")).await;
    let mut acks = Vec::new();
    while let Some(f) = conn.read(Duration::from_millis(500)).await {
        if f.kind == PING {
            acks.push(f);
        }
    }
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(
        (acks[0].flags, acks[0].payload.as_slice()),
        (ACK, &b"12345678"[..])
    );
}

async fn rfc9113_6_7_ping_on_a_stream_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frame(PING, 0, 1, &[0; 8])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn deviation_rfc9113_6_7_ping_of_the_wrong_length(host: RuntimeKind) {
    // RFC: FRAME_SIZE_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let outcome = h2_case(host, &frame(PING, 0, 0, &[0; 7])).await;
    eprintln!("{host:?}: deviation_rfc9113_6_7_ping_of_the_wrong_length: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_6_8_goaway_on_a_stream_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &frame(GOAWAY, 0, 1, &[0; 8])).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_8_a_client_goaway_ends_the_connection_cleanly(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    conn.send(&frames::get(1)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(200)));
    conn.send(&frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 0]))
        .await;
    let (goaway, closed) = conn.until_closed(Duration::from_secs(5)).await;
    assert!(closed, "still open after the client's GOAWAY");
    assert!(matches!(goaway, None | Some(NO_ERROR)), "{goaway:?}");
}

async fn rfc9113_6_9_a_zero_connection_window_increment_is_protocol_error(host: RuntimeKind) {
    let outcome = h2_case(host, &window_update(0, 0)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_9_a_zero_stream_window_increment_is_protocol_error(host: RuntimeKind) {
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(window_update(1, 0));
    let outcome = h2_case(host, &bytes).await;
    assert!(refused_with(&outcome, PROTOCOL_ERROR), "{outcome:?}");
}

async fn deviation_rfc9113_6_9_window_update_of_the_wrong_length(host: RuntimeKind) {
    // RFC: FRAME_SIZE_ERROR; h2 answers PROTOCOL_ERROR (docs/conformance.md).
    let outcome = h2_case(host, &frame(frames::WINDOW_UPDATE, 0, 0, &[0, 0, 1])).await;
    eprintln!("{host:?}: deviation_rfc9113_6_9_window_update_of_the_wrong_length: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn rfc9113_6_9_1_connection_window_overflow_is_flow_control_error(host: RuntimeKind) {
    let mut bytes = window_update(0, 0x7fff_ffff);
    bytes.extend(window_update(0, 0x7fff_ffff));
    let outcome = h2_case(host, &bytes).await;
    assert_eq!(outcome, Outcome::GoAway(FLOW_CONTROL_ERROR));
}

async fn rfc9113_6_9_1_stream_window_overflow_is_flow_control_error(host: RuntimeKind) {
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(window_update(1, 0x7fff_ffff));
    let outcome = h2_case(host, &bytes).await;
    assert!(refused_with(&outcome, FLOW_CONTROL_ERROR), "{outcome:?}");
}

async fn rfc9113_6_9_2_a_zero_initial_window_holds_data_until_window_update(host: RuntimeKind) {
    let server = server(host);
    let mut conn =
        Conn::open_with(server.addr, &settings(&[(frames::INITIAL_WINDOW_SIZE, 0)])).await;
    conn.send(&frames::get(1)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(200)));
    let data = |conn: &Conn| {
        conn.seen
            .iter()
            .any(|f| f.kind == DATA && !f.payload.is_empty())
    };
    while conn.read(Duration::from_millis(300)).await.is_some() {}
    assert!(!data(&conn), "DATA sent with no window");
    conn.send(&window_update(1, 1000)).await;
    while conn.read(Duration::from_millis(300)).await.is_some() {}
    assert!(data(&conn), "no DATA after WINDOW_UPDATE: {:?}", conn.seen);
}

async fn rfc9113_6_10_continuation_without_headers_is_protocol_error(host: RuntimeKind) {
    let block = frames::request("GET", "/", &[]);
    let outcome = h2_case(host, &frame(CONTINUATION, END_HEADERS, 1, &block)).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_10_continuation_on_another_stream_is_protocol_error(host: RuntimeKind) {
    let block = frames::request("GET", "/", &[("x-a", "b")]);
    let (first, rest) = block.split_at(10);
    let mut bytes = frame(HEADERS, END_STREAM, 1, first);
    bytes.extend(frame(CONTINUATION, END_HEADERS, 3, rest));
    let outcome = h2_case(host, &bytes).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_10_a_frame_inside_a_header_block_is_protocol_error(host: RuntimeKind) {
    let block = frames::request("GET", "/", &[("x-a", "b")]);
    let (first, rest) = block.split_at(10);
    let mut bytes = frame(HEADERS, END_STREAM, 1, first);
    bytes.extend(frame(PING, 0, 0, &[0; 8]));
    bytes.extend(frame(CONTINUATION, END_HEADERS, 1, rest));
    let outcome = h2_case(host, &bytes).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

async fn rfc9113_6_10_a_header_block_in_continuations_is_served(host: RuntimeKind) {
    let block = frames::request("GET", "/", &[("x-a", "b"), ("x-c", "d")]);
    let mut bytes = frame(HEADERS, END_STREAM, 1, &block[..5]);
    bytes.extend(frame(CONTINUATION, 0, 1, &block[5..20]));
    bytes.extend(frame(CONTINUATION, END_HEADERS, 1, &block[20..]));
    assert_eq!(h2_case(host, &bytes).await, Outcome::Response(Some(200)));
}

/// A request whose header block is `fields` as given (pseudo-headers included) is malformed:
/// RFC 9113 §8.1.1 makes that a stream error of type PROTOCOL_ERROR.
async fn assert_malformed(host: RuntimeKind, fields: &[(&str, &str)]) {
    let outcome = h2_case(host, &headers(1, &frames::block(fields), true)).await;
    assert!(
        refused_with(&outcome, PROTOCOL_ERROR) || outcome == Outcome::Response(Some(400)),
        "{fields:?}: {outcome:?}"
    );
}

const GET: [(&str, &str); 4] = [
    (":method", "GET"),
    (":scheme", "http"),
    (":authority", "localhost"),
    (":path", "/"),
];

fn get_with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    GET.iter().copied().chain(extra.iter().copied()).collect()
}

async fn rfc9113_8_1_1_content_length_not_matching_data_is_malformed(host: RuntimeKind) {
    let mut bytes = post(1, "/echo", &[("content-length", "10")]);
    bytes.extend(frame(DATA, END_STREAM, 1, b"abc"));
    let outcome = h2_case(host, &bytes).await;
    assert!(refused_with(&outcome, PROTOCOL_ERROR), "{outcome:?}");
}

async fn deviation_rfc9113_8_1_a_pseudo_header_in_trailers(host: RuntimeKind) {
    // RFC: malformed (PROTOCOL_ERROR). h2 accepts it; survival only.
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(frame(DATA, 0, 1, b"abc"));
    bytes.extend(headers(1, &frames::block(&[(":path", "/x")]), true));
    let outcome = h2_case(host, &bytes).await;
    eprintln!("{host:?}: pseudo-header in trailers: {outcome:?}");
}

async fn rfc9113_8_2_an_uppercase_field_name_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &get_with(&[("X-Upper", "a")])).await;
}

async fn rfc9113_8_2_2_a_connection_specific_field_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &get_with(&[("connection", "keep-alive")])).await;
}

async fn rfc9113_8_2_2_te_other_than_trailers_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &get_with(&[("te", "gzip")])).await;
}

async fn deviation_rfc9113_8_2_1_a_field_value_with_a_leading_space(host: RuntimeKind) {
    // RFC: malformed. h2 accepts it (and hyper passes it on); survival only.
    let outcome = h2_case(
        host,
        &headers(1, &frames::block(&get_with(&[("x-a", " b")])), true),
    )
    .await;
    eprintln!("{host:?}: leading space in a value: {outcome:?}");
}

async fn rfc9113_8_3_1_a_missing_method_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &GET[1..]).await;
}

async fn rfc9113_8_3_1_a_missing_path_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &GET[..3]).await;
}

async fn rfc9113_8_3_1_a_missing_scheme_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &[GET[0], GET[2], GET[3]]).await;
}

async fn rfc9113_8_3_1_an_empty_path_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &[GET[0], GET[1], GET[2], (":path", "")]).await;
}

async fn rfc9113_8_3_an_unknown_pseudo_header_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &get_with(&[(":color", "blue")])).await;
}

async fn rfc9113_8_3_a_pseudo_header_after_a_regular_field_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &[GET[0], GET[1], ("x-a", "b"), GET[2], GET[3]]).await;
}

async fn rfc9113_8_3_a_duplicated_pseudo_header_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &get_with(&[(":method", "POST")])).await;
}

async fn rfc9113_8_3_2_a_response_pseudo_header_in_a_request_is_malformed(host: RuntimeKind) {
    assert_malformed(host, &get_with(&[(":status", "200")])).await;
}

async fn rfc9113_8_4_a_client_push_promise_is_protocol_error(host: RuntimeKind) {
    let mut payload = vec![0, 0, 0, 2];
    payload.extend(frames::request("GET", "/", &[]));
    let mut bytes = post(1, "/echo", &[]);
    bytes.extend(frame(PUSH_PROMISE, END_HEADERS, 1, &payload));
    let outcome = h2_case(host, &bytes).await;
    assert_eq!(outcome, Outcome::GoAway(PROTOCOL_ERROR));
}

// --- RFC 7541: HPACK ------------------------------------------------------------------------

async fn deviation_rfc7541_2_3_3_index_0_is_a_decoding_error(host: RuntimeKind) {
    // RFC: COMPRESSION_ERROR. h2 says PROTOCOL_ERROR.
    let outcome = h2_case(host, &headers(1, &[0x80], true)).await;
    eprintln!("{host:?}: HPACK index 0: {outcome:?}");
    assert!(outcome.is_connection_error(), "{outcome:?}");
}

async fn deviation_rfc7541_2_3_3_an_index_past_both_tables_is_a_decoding_error(host: RuntimeKind) {
    let outcome = h2_case(host, &headers(1, &frames::integer(7, 0x80, 300), true)).await;
    eprintln!("{host:?}: HPACK index 300: {outcome:?}");
    assert!(outcome.is_connection_error(), "{outcome:?}");
}

async fn deviation_rfc7541_4_2_a_table_size_update_over_the_limit_is_a_decoding_error(
    host: RuntimeKind,
) {
    let mut block = frames::integer(5, 0x20, 1 << 20);
    block.extend(frames::request("GET", "/", &[]));
    let outcome = h2_case(host, &headers(1, &block, true)).await;
    eprintln!("{host:?}: table size update over SETTINGS_HEADER_TABLE_SIZE: {outcome:?}");
    assert!(outcome.is_connection_error(), "{outcome:?}");
}

async fn deviation_rfc7541_4_2_a_table_size_update_after_a_field_is_a_decoding_error(
    host: RuntimeKind,
) {
    let mut block = frames::request("GET", "/", &[]);
    block.extend(frames::integer(5, 0x20, 100));
    let outcome = h2_case(host, &headers(1, &block, true)).await;
    eprintln!("{host:?}: table size update mid-block: {outcome:?}");
    assert!(outcome.is_connection_error(), "{outcome:?}");
}

async fn deviation_rfc7541_5_2_huffman_padding_longer_than_7_bits_is_a_decoding_error(
    host: RuntimeKind,
) {
    let mut block = frames::request("GET", "/", &[]);
    block.push(0x00);
    block.extend(frames::string(b"x-a"));
    block.extend([0x84, 0xff, 0xff, 0xff, 0xff]); // Huffman, 4 bytes of ones: EOS inside
    let outcome = h2_case(host, &headers(1, &block, true)).await;
    eprintln!("{host:?}: Huffman EOS: {outcome:?}");
    assert!(outcome.is_refusal(), "{outcome:?}");
}

async fn deviation_rfc7541_5_1_an_integer_overflow_is_a_decoding_error(host: RuntimeKind) {
    let block = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];
    let outcome = h2_case(host, &headers(1, &block, true)).await;
    eprintln!("{host:?}: HPACK integer overflow: {outcome:?}");
    assert!(outcome.is_connection_error(), "{outcome:?}");
}

async fn rfc7541_6_1_static_table_indexes_are_decoded(host: RuntimeKind) {
    // :method GET (2), :scheme http (6), :path / (4), :authority with a literal value.
    let mut block = vec![0x82, 0x86, 0x84, 0x41];
    block.extend(frames::string(b"localhost"));
    assert_eq!(
        h2_case(host, &headers(1, &block, true)).await,
        Outcome::Response(Some(200))
    );
}

async fn rfc7541_6_2_1_the_dynamic_table_carries_across_requests(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    // Request 1 adds `x-a: b` to the dynamic table (index 62); request 2 refers to it.
    let mut first = frames::request("GET", "/", &[]);
    first.push(0x40);
    first.extend(frames::string(b"x-a"));
    first.extend(frames::string(b"b"));
    conn.send(&headers(1, &first, true)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(200)));
    let mut second = frames::request("GET", "/", &[]);
    second.push(0xbe);
    conn.send(&headers(3, &second, true)).await;
    assert_eq!(conn.outcome(3).await, Outcome::Response(Some(200)));
}

// --- Floods ---------------------------------------------------------------------------------

async fn flood_rfc9113_10_5_rapid_reset_is_cut_off(host: RuntimeKind) {
    // CVE-2023-44487 in raw frames: HEADERS + RST_STREAM, 2 000 times, in one write.
    let mut bytes = Vec::new();
    for i in 0..2_000u32 {
        let id = 2 * i + 1;
        bytes.extend(headers(
            id,
            &frames::request("GET", "/sleep?ms=1000", &[]),
            true,
        ));
        bytes.extend(frames::rst_stream(id, frames::CANCEL));
    }
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    conn.send(&bytes).await;
    let (goaway, closed) = conn.until_closed(Duration::from_secs(5)).await;
    assert_eq!(goaway, Some(ENHANCE_YOUR_CALM), "closed: {closed}");
    still_serving(&server).await;
}

async fn flood_rfc9113_10_5_continuation_flood_is_cut_off(host: RuntimeKind) {
    // CVE-2024-27316-style: a header block that never ends, 1 KiB of fields per frame.
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    conn.send(&frame(
        HEADERS,
        END_STREAM,
        1,
        &frames::request("GET", "/", &[]),
    ))
    .await;
    let field = frames::block(&[("x-flood", &"f".repeat(1000))]);
    let mut sent = 0;
    let mut cut_off = false;
    for _ in 0..20 {
        let mut burst = Vec::new();
        for _ in 0..100 {
            burst.extend(frame(CONTINUATION, 0, 1, &field));
        }
        if conn.send_checked(&burst).await.is_err() {
            cut_off = true;
            break;
        }
        sent += 100;
    }
    let (goaway, closed) = conn.until_closed(Duration::from_secs(5)).await;
    eprintln!("{host:?}: {sent} CONTINUATION frames sent; GOAWAY {goaway:?}, closed {closed}");
    assert!(
        cut_off || closed || goaway.is_some(),
        "2 000 KiB of one header block accepted"
    );
    still_serving(&server).await;
}

async fn flood_rfc7541_7_hpack_bomb_is_refused(host: RuntimeKind) {
    // One 4 KiB field in the dynamic table, then a block referring to it 4 000 times: 4 bytes
    // on the wire per 4 KiB decoded, 16 MiB in all, far over the 16 KiB header list limit.
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    let mut first = frames::request("GET", "/", &[]);
    first.push(0x40);
    first.extend(frames::string(b"x-bomb"));
    first.extend(frames::string("b".repeat(4000).as_bytes()));
    conn.send(&headers(1, &first, true)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(200)));
    let mut bomb = frames::request("GET", "/", &[]);
    bomb.extend(std::iter::repeat(0xbe).take(4000));
    conn.send(&headers(3, &bomb, true)).await;
    let outcome = conn.outcome(3).await;
    assert!(
        outcome.is_refusal() || outcome == Outcome::Response(Some(431)),
        "{outcome:?}"
    );
    still_serving(&server).await;
}

/// Sends `count` copies of `unit` after `setup`, in bursts of 1 000, reading what the server
/// answers between bursts (so its replies cannot block it); then the connection must either
/// still answer a request or have been closed for the flood, and others must be served.
async fn flood(host: RuntimeKind, setup: &[u8], unit: &[u8], count: usize) {
    let server = server(host);
    let mut attacker = Conn::open(server.addr).await;
    attacker.send(setup).await;
    let burst: Vec<u8> = unit
        .iter()
        .copied()
        .cycle()
        .take(unit.len() * 1000)
        .collect();
    let mut sent = 0;
    for _ in 0..count / 1000 {
        if attacker.send_checked(&burst).await.is_err() {
            break;
        }
        sent += 1000;
        while attacker.read(Duration::from_millis(1)).await.is_some() {}
        attacker.seen.clear();
    }
    attacker.send(&frames::get(101)).await;
    let outcome = attacker.outcome(101).await;
    eprintln!("{host:?}: {sent} sent; then: {outcome:?}");
    assert!(
        outcome == Outcome::Response(Some(200)) || outcome.is_connection_error(),
        "{outcome:?}"
    );
    still_serving(&server).await;
}

async fn flood_rfc9113_10_5_ping_flood_is_survived(host: RuntimeKind) {
    flood(host, &[], &frame(PING, 0, 0, b"flooding"), 20_000).await;
}

async fn flood_rfc9113_10_5_settings_flood_is_survived(host: RuntimeKind) {
    flood(
        host,
        &[],
        &settings(&[(frames::MAX_CONCURRENT_STREAMS, 100)]),
        20_000,
    )
    .await;
}

async fn flood_rfc9113_10_5_empty_data_flood_is_survived(host: RuntimeKind) {
    flood(
        host,
        &post(1, "/echo", &[]),
        &frame(DATA, 0, 1, &[]),
        20_000,
    )
    .await;
}

async fn flood_rfc9113_10_5_window_update_flood_is_survived(host: RuntimeKind) {
    flood(host, &[], &window_update(0, 1), 20_000).await;
}

async fn flood_rfc9112_slowloris_is_closed_at_the_header_read_timeout(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            header_read_timeout: Duration::from_millis(500),
            ..Config::default()
        },
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: "
        .iter()
        .chain(&[b'a'; 100])
    {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let closed = closed
        || read_until_closed(&mut stream, Duration::from_secs(2))
            .await
            .is_some();
    assert!(
        closed,
        "a slowloris client outlived the header-read timeout"
    );
    still_serving(&server).await;
}

async fn flood_rfc9112_a_thousand_tiny_headers_are_431(host: RuntimeKind) {
    let server = server(host);
    let mut request = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..5_000 {
        request.extend(format!("x{i}: y\r\n").as_bytes());
    }
    request.extend(b"\r\n");
    let (reply, closed) = h1(server.addr, &request).await;
    assert_eq!(statuses(&reply).first(), Some(&431), "{reply}");
    assert!(closed);
}

// --- RFC 9112: HTTP/1.1 framing and smuggling, raw bytes --------------------------------------

async fn rfc9112_6_1_content_length_with_transfer_encoding_is_answered_once_and_closed(
    host: RuntimeKind,
) {
    let server = server(host);
    let smuggling = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    // §6.1: process by Transfer-Encoding alone (or refuse), and close the connection after
    // the answer either way: hyper does the former, so the smuggled request is never read.
    let (reply, closed) = h1(server.addr, smuggling).await;
    assert_eq!(statuses(&reply).len(), 1, "{reply}");
    assert!(!reply.contains("smuggled"), "{reply}");
    assert!(closed, "{reply}");
}

async fn rfc9112_6_3_differing_content_lengths_are_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    )
    .await;
}

async fn rfc9112_6_3_a_content_length_list_of_differing_values_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd",
    )
    .await;
}

async fn rfc9112_6_3_an_invalid_content_length_is_400(host: RuntimeKind) {
    let server = server(host);
    for value in ["+4", "-4", "0x4", "4 4", "four"] {
        let request = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nabcd");
        assert_400_and_closed(server.addr, request.as_bytes()).await;
    }
}

async fn rfc9112_6_1_chunked_not_last_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    )
    .await;
}

async fn rfc9112_6_1_an_unknown_transfer_coding_is_refused(host: RuntimeKind) {
    let server = server(host);
    let (reply, closed) = h1(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    let status = statuses(&reply).first().copied();
    assert!(matches!(status, Some(400 | 501)), "{reply}");
    assert!(closed);
}

async fn rfc9112_7_1_an_invalid_chunk_size_is_refused(host: RuntimeKind) {
    let server = server(host);
    for chunk in [
        "zz\r\nabc\r\n0\r\n\r\n",
        "-1\r\nabc\r\n0\r\n\r\n",
        " 3\r\nabc\r\n0\r\n\r\n",
    ] {
        let request =
            format!("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}");
        let (reply, closed) = h1(server.addr, request.as_bytes()).await;
        assert!(!statuses(&reply).contains(&200), "{chunk:?}: {reply}");
        assert!(closed, "{chunk:?}");
    }
}

async fn rfc9112_7_1_a_chunk_size_overflow_is_refused(host: RuntimeKind) {
    let server = server(host);
    let (reply, closed) = h1(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert!(!statuses(&reply).contains(&200), "{reply}");
    assert!(closed);
}

async fn rfc9112_7_1_chunk_data_longer_than_its_size_is_refused(host: RuntimeKind) {
    let server = server(host);
    let (reply, closed) = h1(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
    )
    .await;
    assert!(!statuses(&reply).contains(&200), "{reply}");
    assert!(closed);
}

async fn rfc9112_7_1_1_chunk_extensions_are_accepted(host: RuntimeKind) {
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert!(reply.contains("\"body\":\"hello\""), "{reply}");
}

async fn rfc9112_7_1_2_trailers_are_accepted(host: RuntimeKind) {
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nx-trailer: t\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
}

async fn rfc9112_5_2_obs_fold_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
    )
    .await;
}

async fn rfc9112_5_1_whitespace_before_the_colon_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\nHost : a\r\n\r\n").await;
}

async fn rfc9112_2_2_bare_lf_line_endings_are_accepted(host: RuntimeKind) {
    // §2.2: a recipient MAY recognize a single LF as a line terminator; hyper (httparse) does.
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
}

async fn rfc9112_2_2_a_bare_cr_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n").await;
}

async fn rfc9112_2_2_whitespace_before_the_first_header_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\n Host: a\r\n\r\n").await;
}

async fn rfc9112_3_a_malformed_request_line_is_400(host: RuntimeKind) {
    let server = server(host);
    for line in [
        "GET  / HTTP/1.1",
        "GET /",
        "G@T / HTTP/1.1",
        "GET / HTTP/1.1 extra",
    ] {
        let request = format!("{line}\r\nHost: a\r\n\r\n");
        assert_400_and_closed(server.addr, request.as_bytes()).await;
    }
}

async fn rfc9112_2_3_an_unknown_major_version_is_refused(host: RuntimeKind) {
    let server = server(host);
    let (reply, closed) = h1(server.addr, b"GET / HTTP/3.0\r\nHost: a\r\n\r\n").await;
    assert!(
        matches!(statuses(&reply).first(), Some(400 | 505)),
        "{reply}"
    );
    assert!(closed);
}

async fn rfc9112_3_2_2_an_absolute_form_target_is_served(host: RuntimeKind) {
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"GET http://a.test/healthz HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert!(reply.ends_with("ok"), "{reply}");
}

async fn rfc9112_5_a_nul_in_a_field_value_is_400(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n",
    )
    .await;
}

async fn rfc9112_3_a_request_target_over_the_head_limit_is_refused(host: RuntimeKind) {
    let server = server(host);
    let request = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(40_000));
    let (reply, closed) = h1(server.addr, request.as_bytes()).await;
    assert!(
        matches!(statuses(&reply).first(), Some(414 | 431)),
        "{reply}"
    );
    assert!(closed);
}

async fn rfc9112_9_3_2_pipelined_requests_are_answered_in_order(host: RuntimeKind) {
    let server = server(host);
    let (reply, closed) = h1(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /sleep?ms=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200, 200, 200], "{reply}");
    let ok = reply.find("\r\n\r\nok").unwrap();
    let slept = reply.find("slept 1 ms").unwrap();
    let hello = reply.find("Hello, World!").unwrap();
    assert!(ok < slept && slept < hello, "{reply}");
    assert!(closed);
}

async fn rfc9112_9_6_connection_close_is_honoured(host: RuntimeKind) {
    let server = server(host);
    let (reply, closed) = h1(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert!(closed);
}

async fn rfc9110_10_1_1_expect_100_continue_gets_100_then_the_answer(host: RuntimeKind) {
    let server = server(host);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
    )
    .await
    .expect("no 100 Continue")
    .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    stream.write_all(b"hi").await.unwrap();
    let reply = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.contains("HTTP/1.1 200") && reply.contains("\"body\":\"hi\""),
        "{reply}"
    );
}

async fn rfc9110_9_3_2_head_has_no_body(host: RuntimeKind) {
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "a body after HEAD: {reply:?}");
}
