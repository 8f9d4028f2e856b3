"""A gst-rtsp-server in a process of its own, so that a test can kill it abruptly (SIGKILL: no
TEARDOWN, no RTCP BYE, sockets closed by the kernel), as a camera losing power does.

Serves FILE (Matroska with one video and one audio track) at rtsp://127.0.0.1:PORT/x as H.264
and Opus, the same media as tests/common/rtsp.rs serves in-process. Prints "listening PORT" once
it accepts connections. Runs with Debian's python3 (python3-gi, gir1.2-gst-rtsp-server-1.0).

Usage: python3 tests/python/rtsp_server.py FILE PORT
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: rtsp_server.py FILE PORT")
    media_file, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( filesrc location={media_file} ! matroskademux name=d "
        "d.video_0 ! queue ! videoconvert ! video/x-raw,format=I420 ! openh264enc ! h264parse ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 "
        "d.audio_0 ! queue ! audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=97 )"
    )
    server.get_mount_points().add_factory("/x", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print(f"listening {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
