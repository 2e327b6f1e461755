"""optuna-dashboard on a study storage, with the studies' artifact stores attached.

Each study records its artifact folder in its ``artifact_dir`` user attribute. Studies in one
storage share one folder by default, but a study created with another ``--artifact-dir`` keeps
its own; :class:`StudyArtifactStore` serves all of them, so every trial's .tflite, report and
plots open in the dashboard whichever folder holds them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, BinaryIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from tinynas import study as studies
from tinynas.errors import ServerError, StudyError

if TYPE_CHECKING:
    import optuna


def check_database(storage: str) -> None:
    """Refuse a SQLite URL whose file does not exist, instead of creating an empty database.

    Raises:
        StudyError: The file is missing.
    """
    path = studies.sqlite_path(storage)
    if path is not None and not path.is_file():
        raise StudyError(f"--storage {storage!r}: no database file {path}; run tinynas search "
                         f"first or name an existing storage")


class StudyArtifactStore:
    """An Optuna artifact store over several folders.

    Reads and removals go to the folder that holds the artifact; new artifacts (uploaded from
    the dashboard) go to the first folder.
    """

    def __init__(self, folders: list[Path]):
        from optuna.artifacts import FileSystemArtifactStore

        if not folders:
            raise ValueError("at least one artifact folder is needed")
        self.folders = folders
        self._stores = [FileSystemArtifactStore(f) for f in folders]

    def _holder(self, artifact_id: str) -> Any:
        for folder, store in zip(self.folders, self._stores, strict=True):
            if (folder / artifact_id).is_file():
                return store
        return self._stores[0]

    def open_reader(self, artifact_id: str) -> BinaryIO:
        """Open an artifact for reading (raises optuna's ArtifactNotFound when absent)."""
        return self._holder(artifact_id).open_reader(artifact_id)  # type: ignore[no-any-return]

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        """Store a new artifact in the first folder."""
        self._stores[0].write(artifact_id, content_body)

    def remove(self, artifact_id: str) -> None:
        """Delete an artifact from the folder holding it."""
        self._holder(artifact_id).remove(artifact_id)


def artifact_folders(storage: optuna.storages.BaseStorage, url: str) -> list[Path]:
    """The artifact folders of every study in ``storage``, the storage's default first."""
    default = studies.default_artifact_dir(url)
    folders = [default]
    for study in storage.get_all_studies():
        folder = study.user_attrs.get("artifact_dir")
        if folder and Path(folder).resolve() not in folders:
            folders.append(Path(folder).resolve())
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request to the terminal."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """A WSGI server answering each request in its own thread (the dashboard polls)."""

    daemon_threads = True


class Dashboard:
    """optuna-dashboard bound to an address, serving one storage.

    Attributes:
        storage: The storage URL.
        study_names: Names of the studies in the storage when it was opened.
        artifact_folders: Folders the artifact store reads.
    """

    def __init__(self, storage: str, host: str = "127.0.0.1", port: int = 8080):
        """Open the storage and bind the address (nothing is served until :meth:`serve`).

        Args:
            storage: The study storage URL.
            host: The address to listen on.
            port: The port; 0 picks a free one (see :attr:`port` afterwards).

        Raises:
            StudyError: The storage cannot be opened.
            ServerError: The address cannot be bound.
        """
        from wsgiref.simple_server import make_server

        import optuna_dashboard

        check_database(storage)
        store = studies.make_storage(storage, heartbeat=False)
        self.storage = storage
        self.study_names = sorted(s.study_name for s in store.get_all_studies())
        self.artifact_folders = artifact_folders(store, storage)
        app = optuna_dashboard.wsgi(store, artifact_store=StudyArtifactStore(
            self.artifact_folders))
        try:
            self._server = make_server(host, port, app, server_class=_ThreadingServer,
                                       handler_class=_QuietHandler)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ServerError(f"--host {host} --port {port}: cannot listen there: {reason}"
                              f" (choose another --port, or 0 for any free port)") from None
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The dashboard's address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/dashboard/"

    def serve(self) -> None:
        """Serve until :meth:`stop` is called or the process is interrupted."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def start(self) -> Dashboard:
        """Serve from a background thread (for embedding and tests); returns ``self``."""
        self._thread = threading.Thread(target=self.serve, name="tinynas-dashboard",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is None:
            self._server.server_close()
            return
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
