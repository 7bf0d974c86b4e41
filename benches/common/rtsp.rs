//! Cameras on 127.0.0.1 for the tests and the benchmarks: a real RTSP server
//! (gst-rtsp-server) serving a GStreamer launch line, and a "camera" that accepts TCP
//! connections and never answers. `tests/it/common/rtsp.rs` and `benches/soak.rs` include
//! this file.

use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

/// H.264 test picture (a moving ball) at `w`x`h` and `fps`, as most cameras send.
pub fn h264_launch(w: u32, h: u32, fps: u32) -> String {
    format!(
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate={fps}/1 \
         ! openh264enc ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
}

/// A running RTSP server; stops (closing its port and every session) when dropped.
#[derive(Debug)]
pub struct RtspServer {
    /// TCP port it listens on.
    pub port: u16,
    main_loop: glib::MainLoop,
    server: rtsp::RTSPServer,
    thread: Option<JoinHandle<()>>,
}

impl RtspServer {
    /// Serves `launch` at `/cam` on `port` (0 = any free port).
    pub fn start(launch: &str, port: u16) -> RtspServer {
        let launch = launch.to_owned();
        Self::start_with(port, move |factory| factory.set_launch(&launch))
    }

    /// Serves at `/cam` on `port` (0 = any free port) what `configure` sets up on the
    /// (shared) media factory.
    pub fn start_with(
        port: u16,
        configure: impl FnOnce(&rtsp::RTSPMediaFactory) + Send + 'static,
    ) -> RtspServer {
        gst::init().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let ctx = glib::MainContext::new();
            let main_loop = glib::MainLoop::new(Some(&ctx), false);
            let server = rtsp::RTSPServer::new();
            server.set_address("127.0.0.1");
            server.set_service(&port.to_string());
            let factory = rtsp::RTSPMediaFactory::new();
            configure(&factory);
            factory.set_shared(true);
            server.mount_points().unwrap().add_factory("/cam", factory);
            let source = server.attach(Some(&ctx)).unwrap();
            // Sessions whose client went away without a TEARDOWN time out; a server that
            // serves thousands of probes must drop them.
            let pool = server.session_pool();
            let cleanup = glib::timeout_source_new(
                Duration::from_secs(5),
                None,
                glib::Priority::DEFAULT,
                move || {
                    if let Some(p) = &pool {
                        p.cleanup();
                    }
                    glib::ControlFlow::Continue
                },
            );
            cleanup.attach(Some(&ctx));
            tx.send((server.bound_port(), main_loop.clone(), server.clone()))
                .unwrap();
            main_loop.run();
            cleanup.destroy();
            // Close every session, then the listening socket.
            server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            if let Some(s) = ctx.find_source_by_id(&source) {
                s.destroy();
            }
            // Let the removals run before the context goes.
            while ctx.iteration(false) {}
        });
        let (port, main_loop, server) = rx.recv().unwrap();
        RtspServer {
            port: u16::try_from(port).unwrap(),
            main_loop,
            server,
            thread: Some(thread),
        }
    }

    /// RTSP clients connected now.
    pub fn clients(&self) -> usize {
        self.server.client_filter(None).len()
    }

    /// `rtsp://127.0.0.1:<port>/cam`.
    pub fn uri(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A camera that accepts connections and never says a word: the worst case for a probe,
/// which must give up on its own timeout.
#[derive(Debug)]
pub struct SilentCamera {
    /// Its port.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentCamera {
    /// Listens on 127.0.0.1 at a free port and holds every connection until dropped.
    pub fn start() -> SilentCamera {
        Self::holding(Duration::MAX)
    }

    /// Like [`SilentCamera::start`], but closes each connection `hold` after it came (by
    /// then the probe gave up), so that hundreds of probe rounds do not pile up descriptors.
    pub fn holding(hold: Duration) -> SilentCamera {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: VecDeque<(Instant, TcpStream)> = VecDeque::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => held.push_back((Instant::now(), conn)),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
                while held.front().is_some_and(|(at, _)| at.elapsed() > hold) {
                    held.pop_front();
                }
            }
        });
        SilentCamera {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// An RTSP address on it.
    pub fn uri(&self) -> String {
        format!("rtsp://127.0.0.1:{}/silent", self.port)
    }
}

impl Drop for SilentCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
