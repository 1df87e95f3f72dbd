#!/usr/bin/python3
"""A camera-like RTSP server for the tests: GStreamer's gst-rtsp-server serving files ffmpeg made.

Usage: rtsp-server.py PORT MOUNT=FILE [MOUNT=FILE ...] [--user U --password P] [--udp-only | --tcp-only]

Each FILE is a QuickTime file holding one video stream (H.264 or H.265) and optionally one audio stream (AAC,
G.711 A-law or mu-law); it is served at rtsp://127.0.0.1:PORT/MOUNT as a real camera sends it: the encoder's
own packets, paced by the clock, never re-encoded. Every client gets its own pipeline from the file's start; the
file must outlast the recording (looping with segment seeks stalled at the file's end inside gst-rtsp-server's
media, and a camera's timestamps never jump back). With --user the server requires digest authentication.
Prints "ready PORT" on stdout once it listens.
"""
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)


def probe(path):
    """(video parse+pay, audio pay or None) for the streams in the file, from GStreamer's own discoverer."""
    gi.require_version("GstPbutils", "1.0")
    from gi.repository import GstPbutils

    info = GstPbutils.Discoverer.new(10 * Gst.SECOND).discover_uri(Gst.filename_to_uri(path))
    video = audio = None
    for s in info.get_stream_list():
        caps = s.get_caps().to_string()
        if caps.startswith("video/x-h264"):
            video = "h264parse ! rtph264pay config-interval=-1"
        elif caps.startswith("video/x-h265"):
            video = "h265parse ! rtph265pay config-interval=-1"
        elif caps.startswith("audio/mpeg"):
            audio = "aacparse ! rtpmp4gpay"
        elif caps.startswith("audio/x-alaw"):
            audio = "rtppcmapay"
        elif caps.startswith("audio/x-mulaw"):
            audio = "rtppcmupay"
    if video is None:
        raise SystemExit(f"{path}: no H.264 or H.265 video stream")
    return video, audio


class FileFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, path):
        super().__init__()
        video, audio = probe(path)
        launch = f'( filesrc location="{path}" ! qtdemux name=d d.video_0 ! queue ! {video} name=pay0 pt=96'
        if audio:
            launch += f" d.audio_0 ! queue ! {audio} name=pay1 pt=97"
        self.set_launch(launch + " )")
        self.set_shared(False)


def main(argv):
    port = argv[0]
    mounts = []
    user = password = None
    protocols = GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--user":
            user = argv[i + 1]
            i += 1
        elif a == "--password":
            password = argv[i + 1]
            i += 1
        elif a == "--udp-only":
            protocols = GstRtsp.RTSPLowerTrans.UDP
        elif a == "--tcp-only":
            protocols = GstRtsp.RTSPLowerTrans.TCP
        else:
            name, path = a.split("=", 1)
            mounts.append((name, os.path.abspath(path)))
        i += 1

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    if user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera-user")
        auth.add_digest(user, password, token)
        server.set_auth(auth)
    for name, path in mounts:
        f = FileFactory(path)
        f.set_protocols(protocols)
        if user:
            f.add_role_from_structure(
                Gst.Structure.from_string(
                    "camera-user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
                )[0]
            )
        server.get_mount_points().add_factory("/" + name, f)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on port {port}")
    print(f"ready {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1:])
