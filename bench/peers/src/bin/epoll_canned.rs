//! The physical limit: one thread, one epoll loop (through `polling`), that answers every
//! `\r\n\r\n` it sees with a canned HTTP/1.1 response and parses nothing else.
//! `epoll_canned ADDR`. HTTP/1.1 only.
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

use polling::{Event, Events, Poller};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n\r\nHello, World!";
// Key 0 is the listener; connections count up from 1 (polling reserves `usize::MAX`).
const LISTENER: usize = 0;

struct Conn {
    stream: TcpStream,
    tail: usize, // how many bytes of a partial "\r\n\r\n" ended the last read
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3003".into());
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // SAFETY: the listener outlives the poller's use of it (both live until main returns).
    unsafe { poller.add(&listener, Event::readable(LISTENER))? };
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        events.clear();
        poller.wait(&mut events, None)?;
        for ev in events.iter() {
            if ev.key == LISTENER {
                while let Ok((stream, _)) = listener.accept() {
                    stream.set_nonblocking(true)?;
                    stream.set_nodelay(true)?;
                    next += 1;
                    // SAFETY: the stream is deleted from the poller before it is dropped.
                    unsafe { poller.add(&stream, Event::readable(next))? };
                    conns.insert(next, Conn { stream, tail: 0 });
                }
                poller.modify(&listener, Event::readable(LISTENER))?;
                continue;
            }
            let Some(conn) = conns.get_mut(&ev.key) else { continue };
            let mut closed = false;
            loop {
                match conn.stream.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        // Count request ends, carrying a partial terminator across reads.
                        for &b in &buf[..n] {
                            conn.tail = match (conn.tail, b) {
                                (0 | 2, b'\r') => conn.tail + 1,
                                (1 | 3, b'\n') => conn.tail + 1,
                                (_, b'\r') => 1,
                                _ => 0,
                            };
                            if conn.tail == 4 {
                                out.extend_from_slice(RESPONSE);
                                conn.tail = 0;
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            if !out.is_empty() && conn.stream.write_all(&out).is_err() {
                closed = true;
            }
            out.clear();
            if closed {
                let conn = conns.remove(&ev.key).expect("present");
                poller.delete(&conn.stream)?;
            } else {
                poller.modify(&conn.stream, Event::readable(ev.key))?;
            }
        }
    }
}
