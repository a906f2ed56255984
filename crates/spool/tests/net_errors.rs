//! Clear errors: nothing listening, address taken.

mod common;

use std::io::ErrorKind;

use spool::net::{TcpListener, TcpStream};

#[test]
fn connect_to_a_closed_port_is_connection_refused() {
    let rt = common::rt(2);
    // Bind a port and close it again: nothing listens there now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = rt
        .block_on(TcpStream::connect(addr))
        .expect_err("nothing listens there");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    // The failed attempt's registration is gone.
    assert_eq!(rt.metrics().io_sources, 0);
}

#[test]
fn binding_a_taken_address_is_addr_in_use_and_names_it() {
    let rt = common::rt(1);
    let _guard = rt.handle().enter();
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = first.local_addr().unwrap();
    let err = TcpListener::bind(addr).expect_err("the port is taken");
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn io_on_a_shut_down_runtime_fails_instead_of_hanging() {
    let rt = common::rt(1);
    let (listener, _guard_addr) = {
        let _guard = rt.handle().enter();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    };
    drop(rt);
    let err = spool::block_on(listener.accept()).expect_err("nobody turns its reactor");
    assert!(err.to_string().contains("shut down"), "{err}");
}
