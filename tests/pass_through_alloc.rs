//! The pass-through path (requests that are not upgrades to a registered
//! protocol) allocates nothing: counted with a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::ready;

use futures_util::FutureExt;
use http::{Request, Response, Version};
use tower::{service_fn, Layer, Service};
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.with(Cell::get))
}

#[test]
fn pass_through_allocates_nothing() {
    let mut app = UpgradeLayer::new()
        .websocket(
            WebSocketConfig::new(),
            service_fn(|_: Upgraded| async { Ok::<_, Infallible>(()) }),
        )
        .protocol(
            "linecount/1",
            service_fn(|_: Upgraded| async { Ok::<_, Infallible>(()) }),
        )
        .layer(service_fn(|_: Request<String>| {
            ready(Ok::<_, Infallible>(Response::new(String::new())))
        }));

    let requests = [
        (
            "plain GET",
            Request::get("/")
                .header("host", "x")
                .body(String::new())
                .unwrap(),
        ),
        (
            "upgrade to a protocol not offered",
            Request::get("/")
                .header("host", "x")
                .header("connection", "keep-alive")
                .header("connection", "Upgrade")
                .header("upgrade", "h2c, foo/2, linecount/2")
                .body(String::new())
                .unwrap(),
        ),
        (
            "Upgrade without the Connection token",
            Request::get("/")
                .header("upgrade", "websocket")
                .body(String::new())
                .unwrap(),
        ),
        (
            "HTTP/1.0 upgrade",
            Request::get("/")
                .version(Version::HTTP_10)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .body(String::new())
                .unwrap(),
        ),
    ];
    for (name, request) in requests {
        let (response, allocations) = allocations_during(|| {
            app.call(request)
                .now_or_never()
                .expect("the inner service is ready at once")
        });
        assert_eq!(response.unwrap().status(), 200, "{name}");
        assert_eq!(allocations, 0, "{name}: the pass-through path allocated");
    }

    // The counter itself works: an upgrade to a registered protocol does
    // allocate (its future is boxed, its token copied).
    let upgrade = Request::get("/")
        .header("connection", "upgrade")
        .header("upgrade", "linecount/1")
        .body(String::new())
        .unwrap();
    let (future, allocations) = allocations_during(|| app.call(upgrade));
    drop(future);
    assert!(allocations > 0);
}
