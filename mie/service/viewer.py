"""OHIF Viewer at a §2.6 image link: its prebuilt files served as they are, its configuration written per link.

bin/install-ohif puts the npm package @ohif/app's `dist/` (version OHIF_VERSION) into the settings' viewer_dir and
marks it with VERSION_FILE; nothing is fetched at run time, and a processor without those files (or with another
version) opens the light page at the link. OHIF's build loads its files from the site's root (its index.html names
`/app.bundle….js`, its webpack public path is "/"), so they are served at the root, each by its own name. Its
`/app-config.js` is mie's: the same for every link, it lets OHIF load its configuration from one place only,
`CONFIG_PATH/{token}`, which `link_config` writes per link: one DICOMweb data source, the link's read-only root
(mie.service.dicomweb.link_root), the study list off. The viewer is configured, never patched.
"""

from __future__ import annotations

import functools
import json
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mie.config import Settings
from mie.runtime import Runtime
from mie.service import dicomweb
from mie.service.pages import image_studies

log = logging.getLogger("mie.viewer")

OHIF_VERSION = "3.13.2"  # bin/install-ohif installs this one
VERSION_FILE = ".mie-ohif-version"
VIEWER_PATH = "/viewer"  # OHIF's own route for a study: /viewer?StudyInstanceUIDs=…
CONFIG_PATH = "/mie/image/viewer-config"
# written by mie, never taken from OHIF's files
_OWN = frozenset({"index.html", "app-config.js"})
# The types a browser insists on: a module script or a worker needs a JavaScript type, streaming wasm compilation
# application/wasm. Others from the standard table.
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".css": "text/css",
    ".map": "application/json",
    ".woff2": "font/woff2",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class InstalledViewer:
    directory: Path
    files: frozenset[str]  # top-level files served at /{name}
    folders: frozenset[str]  # top-level folders served at /{name}/…


@functools.cache
def _installed(directory: Path | None) -> InstalledViewer | None:
    if directory is None:
        return None
    try:
        version = ((directory / VERSION_FILE).read_text().split() or [""])[0]  # then bin/install-ohif's layout
        entries = list(directory.iterdir())
    except OSError:
        return None
    if version != OHIF_VERSION or not (directory / "index.html").is_file():
        log.warning("OHIF Viewer in %s is %s, not %s: image links open the light page", directory, version, OHIF_VERSION)
        return None
    shown = [entry for entry in entries if not entry.name.startswith((".", "_")) and entry.name not in _OWN]
    shown = [entry for entry in shown if not entry.name.endswith(".gz")]  # sent for their file, not by name
    return InstalledViewer(
        directory.resolve(),
        frozenset(entry.name for entry in shown if entry.is_file()),
        frozenset(entry.name for entry in shown if entry.is_dir()),
    )


def installed(settings: Settings) -> InstalledViewer | None:
    """OHIF's files when the pinned version is installed in the settings' viewer_dir (looked at once)."""
    return _installed(settings.viewer_dir)


def index_file(viewer: InstalledViewer) -> Path:
    return viewer.directory / "index.html"


@dataclass(frozen=True)
class StaticFile:
    path: Path  # what to send: the file, or its gzip copy beside it (bin/install-ohif makes them)
    media_type: str  # the file's own type
    gzipped: bool


def static_file(viewer: InstalledViewer, relative: str, gzip_ok: bool) -> StaticFile | None:
    """One of OHIF's files, its gzip copy when the client takes gzip and there is one; None unless it is a file
    inside the viewer's directory."""
    path = (viewer.directory / relative).resolve()
    if not path.is_relative_to(viewer.directory) or not path.is_file() or path.suffix == ".gz":
        return None
    media = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    packed = path.with_name(path.name + ".gz")
    if gzip_ok and packed.is_file():
        return StaticFile(packed, media, True)
    return StaticFile(path, media, False)


def app_config() -> str:
    """OHIF's app-config.js, the same for every link: load the configuration the page's address names (configUrl),
    from CONFIG_PATH only (OHIF checks it against the pattern; a relative address, so from this origin)."""
    pattern = "^" + CONFIG_PATH.replace("/", r"\/") + r"\/[A-Za-z0-9_-]+$"
    fallback = {"routerBasename": "/", "showStudyList": False, "extensions": [], "modes": [], "dataSources": []}
    return (
        "// written by mie: each image link's configuration comes from " + CONFIG_PATH + "/{token}\n"
        "window.config = Object.assign(" + json.dumps(fallback) + ", "
        "{ dangerouslyUseDynamicConfig: { enabled: true, regex: /" + pattern + "/ } });\n"
    )


def viewer_address(runtime: Runtime, image_token: str, client: str | None) -> str | None:
    """OHIF's address for an image link: its study route with the exam's studies and the link's configuration;
    None while the exam has no images (the light page says so). PageRefused (audited) for a bad or expired token."""
    studies = image_studies(runtime, image_token, client)
    if not studies:
        return None
    query = f"StudyInstanceUIDs={quote(','.join(studies), safe=',')}&configUrl={quote(f'{CONFIG_PATH}/{image_token}', safe='/')}"
    return f"{runtime.settings.effective_public_url}{VIEWER_PATH}?{query}"


def link_config(runtime: Runtime, image_token: str, client: str | None) -> dict[str, Any]:
    """OHIF's configuration for one image link: one DICOMweb data source, the link's read-only root (absolute, from
    the public address), bulk data by URI, no SharedArrayBuffer (it would need cross-origin isolation), no study
    list. DicomwebRefused for a bad or expired token."""
    root, _expires_at = dicomweb.link_root(runtime, image_token, client)
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "mie",
        "configuration": {
            "friendlyName": "mie",
            "name": "mie",
            "qidoRoot": root,
            "wadoRoot": root,
            "wadoUriRoot": f"{root}/wado",
            "qidoSupportsIncludeField": True,
            "supportsFuzzyMatching": True,
            "supportsWildcard": True,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "staticWado": True,
            "singlepart": "bulkdata",
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
            "omitQuotationForMultipartRequest": True,
        },
    }
    return {
        "routerBasename": "/",
        "showStudyList": False,
        "extensions": [],
        "modes": [],
        "defaultDataSourceName": "mie",
        "dataSources": [source],
        "useSharedArrayBuffer": "FALSE",
        "maxNumberOfWebWorkers": 3,
        "showLoadingIndicator": True,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True,
        "strictZSpacingForVolumeViewport": True,
        "investigationalUseDialog": {"option": "never"},
        # no first-run tour: its first step ("Scrolling Through Images 1/11") covers the image on every first open,
        # and a link is opened in browsers that never saw it (OHIF remembers a tour shown in the browser only)
        "customizationService": [{"ohif.tours": {"$set": []}}],
        "maxNumRequests": {"interaction": 100, "thumbnail": 5, "prefetch": 25},
    }
