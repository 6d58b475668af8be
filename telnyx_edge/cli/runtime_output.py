"""What `dev` and `serve` print while they run: one stable line per runtime event."""

from __future__ import annotations

from telnyx_edge import console


def alarm_retry_delay_s() -> float:
    """`TELNYX_EDGE_ALARM_RETRY_DELAY_MS` (tests shorten retries with it), default 1 s."""
    from telnyx_edge import settings

    return settings.get().alarm_retry_delay_s


def report(event: object) -> None:
    """Turn a runtime event into its stable output line (tests wait on these)."""
    from telnyx_edge.runtime import events

    if isinstance(event, events.Logged):
        from telnyx_edge.cli.log_lines import write_live

        write_live(event.records, console.is_verbose())
    elif isinstance(event, events.InspectorOpen):
        console.info(f"Inspector on {event.url}")
        console.info("💡 Open chrome://inspect in Chrome (Configure... the host:port if it is not 127.0.0.1:9229), or attach your editor; it stays on this port across reloads")
    elif isinstance(event, events.Ready):
        # The functions come first: whoever waits for "Ready on" has read them already.
        width = max((len(name) for name, _ in event.functions), default=0)
        for name, url in event.functions:
            console.info(f"  {name.ljust(width)}  {url}")
        console.info(f"Ready on {event.url}")
        if event.explorer:
            console.info(f"Explorer on {event.explorer}")
    elif isinstance(event, events.FunctionReloaded):
        verb = "Added" if event.added else "Reloaded"
        console.info(f"{verb} {event.function} (revision {event.revision}) in {event.elapsed_ms:.0f} ms: {event.url}")
    elif isinstance(event, events.Notice):
        console.warning(event.message)
    elif isinstance(event, events.FunctionRemoved):
        console.info(f"Removed {event.function}: it is no longer deployed")
    elif isinstance(event, events.Reloaded):
        console.info(f"Reloaded {event.function + ' ' if event.function else ''}in {event.elapsed_ms:.0f} ms")
    elif isinstance(event, events.FunctionFailed):
        console.error(f"{event.function} is not served: {event.message}", event.hint)
    elif isinstance(event, events.ReloadFailed):
        console.error(f"Reload failed: {event.message}; the previous code keeps serving")
        for detail in event.details:
            console.detail(detail)
    elif isinstance(event, events.IsolateReplaced):
        console.warning(f"Isolate replaced: {event.reason}")
    elif isinstance(event, events.Unavailable):
        names = ", ".join(f"{binding} ({kind})" for binding, kind in event.bindings)
        console.warning(f"Not available locally (platform-only bindings): {names}")
    elif isinstance(event, events.Unresolved):
        console.warning(
            f"No function here owns actor type(s) {', '.join(event.types)}: calls to them fail with ActorTypeNotFoundError"
        )
    elif isinstance(event, events.StateMigrated):
        console.info(f"Moved the state of {event.actors} actor(s) into per-actor databases under {event.state_dir} (once)")
    elif isinstance(event, events.IndexRebuilding):
        console.info(f"Reading every actor database under {event.state_dir} (the last run did not stop cleanly)...")
    elif isinstance(event, events.Stopping):
        console.info("Stopping...")
    elif isinstance(event, events.ForcedExit):
        console.warning("Forced exit (second Ctrl-C): requests in flight were dropped; acknowledged writes are safe")
