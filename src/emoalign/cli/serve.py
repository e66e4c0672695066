"""``emoalign serve``: the HTTP API and the web page."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free port).")
@click.option("--index", "index_dir", type=click.Path(file_okay=False), default=None,
              help="Index folder from `emoalign index build`. Default: a small index of the project's example "
                   "data, built once and cached.")
@click.option("--no-index", is_flag=True, help="Analysis only: load no index (matching answers 503).")
@click.option("--max-upload-mb", default=25.0, show_default=True, type=click.FloatRange(0.001, 1024),
              help="Largest accepted upload (413 above it).")
@click.option("--malloc-arenas", default=2, show_default=True, type=click.IntRange(0),
              help="Cap glibc malloc arenas (less memory held by request threads); 0 keeps glibc's default.")
@click.option("--allowed-host", "allowed_host", multiple=True, metavar="NAME",
              help="Also answer to this Host name (repeatable; '*' for any). Default: loopback names and --host; "
                   "more from $EMOALIGN_ALLOWED_HOSTS (comma-separated). Others get 400 (DNS rebinding).")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a client may take to send a request's headers (idle connections are closed).")
@click.option("--body-timeout", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a client may take to send a request's body (408 after it).")
@click.option("--limit-concurrency", default=64, show_default=True, type=click.IntRange(1),
              help="Open connections and requests at once; more get 503.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str, port: int, index_dir: str | None, no_index: bool, max_upload_mb: float, malloc_arenas: int,
          allowed_host: tuple[str, ...], header_timeout: float, body_timeout: float, limit_concurrency: int,
          log_level: str) -> None:
    """Serve the web page and the HTTP API (OpenAPI docs at /docs)."""
    from emoalign.serve.runner import limit_malloc_arenas

    limit_malloc_arenas(malloc_arenas)  # before any request thread exists
    try:
        import uvicorn

        from emoalign.serve.app import ServeConfig, create_app
        from emoalign.serve.hygiene import allowed_hosts, fixed_mmap_threshold, guarded_protocol
    except ImportError as exc:
        raise click.ClickException(f"the service needs the 'serve' extra (pip install 'emoalign[serve]'): {exc}") from None
    if no_index and index_dir:
        raise click.UsageError("--index and --no-index exclude each other")
    if not no_index and index_dir is None:
        from emoalign.serve.default_index import default_index

        click.echo("no --index given: using the example index (built once, then cached)", err=True)
        try:
            index_dir = str(default_index(log=lambda msg: click.echo(msg, err=True)))
        except Exception as exc:
            raise click.ClickException(f"cannot build the example index: {exc}") from None
    click.echo("loading models…", err=True)
    try:
        config = ServeConfig(max_upload_bytes=int(max_upload_mb * 1024 * 1024), body_timeout=body_timeout,
                             allowed_hosts=allowed_hosts(host, allowed_host))
        app = create_app(None if no_index else index_dir, config=config)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"emoalign serving on http://{host}:{port}/  (API docs: /docs)", err=True)
    fixed_mmap_threshold()  # large decoded media in their own mappings: returned to the system when freed
    uvicorn.run(app, host=host, port=port, log_level=log_level, http=guarded_protocol(header_timeout),
                timeout_keep_alive=5, limit_concurrency=limit_concurrency, h11_max_incomplete_event_size=16 * 1024)


if __name__ == "__main__":  # `python -m emoalign.cli.serve` (used to start it as a child process)
    serve(prog_name="emoalign serve")
