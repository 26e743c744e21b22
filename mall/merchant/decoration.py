"""Shop decoration in the merchant centre (M-03): theme, theme settings, modules, preview, publish, restore.

Every route needs ``store.manage``. The rules live in ``mall.decoration.services``; these views
turn forms into service calls, commit once, and show refusals as flashes or field errors.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from mall.decoration import services
from mall.decoration.modules import MODULE_TYPES, ConfigInvalid, DecorationError, Upload, module_type, summary
from mall.decoration.rendering import Decoration, render_store_page
from mall.decoration.themes import themes
from mall.extensions import db
from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint

PREVIEW_DEVICES = {"desktop": 1280, "phone": 390}


def _uploads() -> dict[str, Upload]:
    return {name: Upload(file.read(), file.filename or "") for name, file in request.files.items() if file.filename}


def _editor(settings_errors: dict[str, str] | None = None, status: int = 200):
    draft = services.current_draft()
    live = services.live_version()
    versions = services.list_versions()
    theme = services.draft_theme(draft)
    return render_template(
        "merchant/decoration/editor.html",
        draft=draft,
        theme=theme,
        themes=themes().all(),
        settings=theme.effective_settings(draft.settings),
        settings_values=request.form if settings_errors else None,
        settings_errors=settings_errors or {},
        live=live,
        unpublished=services.has_unpublished_changes(draft, live),
        versions=versions,
        publishers=services.publisher_names(versions),
        module_types=[MODULE_TYPES[code] for code in theme.modules],
        all_module_types=MODULE_TYPES,
        summary=summary,
    ), status


def _back_to_editor(anchor: str | None = None):
    return redirect(url_for("merchant.decoration", _anchor=anchor))


@blueprint.get("/decoration")
@require("store.manage")
def decoration():
    return _editor()


@blueprint.post("/decoration/theme")
@require("store.manage")
def decoration_theme():
    try:
        services.set_theme(current_user, request.form.get("theme", ""))
    except DecorationError as error:
        flash(error.message, "error")
        return _back_to_editor("themes")
    db.session.commit()
    flash(_("Theme changed in the draft. Preview it, then publish."), "success")
    return _back_to_editor("themes")


@blueprint.post("/decoration/settings")
@require("store.manage")
def decoration_settings():
    try:
        services.update_theme_settings(current_user, request.form)
    except ConfigInvalid as invalid:
        db.session.rollback()
        flash(_("Please correct the marked fields."), "error")
        return _editor(settings_errors=invalid.errors, status=400)
    db.session.commit()
    flash(_("Theme settings saved in the draft."), "success")
    return _back_to_editor("settings")


def _module_form(spec, module: dict | None, *, values=None, errors=None, slot=None, status=200):
    draft = services.current_draft()
    theme = services.draft_theme(draft)
    return render_template(
        "merchant/decoration/module_form.html",
        spec=spec,
        module=module,
        config=(module or {}).get("config") or {},
        values=values,
        errors=errors or {},
        theme=theme,
        slot=theme.slot_for(slot or (module or {}).get("slot")),
    ), status


@blueprint.route("/decoration/modules/new", methods=["GET", "POST"])
@require("store.manage")
def decoration_module_new():
    type_code = request.values.get("type", "")
    if type_code not in MODULE_TYPES:
        abort(404)
    spec = module_type(type_code)
    slot = request.values.get("slot") or None
    if request.method == "POST":
        try:
            services.add_module(current_user, type_code, request.form, _uploads(), slot=slot)
        except ConfigInvalid as invalid:
            db.session.rollback()
            return _module_form(spec, None, values=request.form, errors=invalid.errors, slot=slot, status=400)
        except DecorationError as error:
            db.session.rollback()
            flash(error.message, "error")
            return _module_form(spec, None, values=request.form, slot=slot, status=400)
        db.session.commit()
        flash(_("Module added to the draft."), "success")
        return _back_to_editor("modules")
    return _module_form(spec, None, slot=slot)


@blueprint.route("/decoration/modules/<module_id>", methods=["GET", "POST"])
@require("store.manage")
def decoration_module_edit(module_id: str):
    module = services.find_module(services.current_draft(), module_id)
    spec = module_type(module["type"])
    if request.method == "POST":
        slot = request.form.get("slot") or None
        try:
            services.update_module(current_user, module_id, request.form, _uploads(), slot=slot)
        except ConfigInvalid as invalid:
            db.session.rollback()
            return _module_form(spec, module, values=request.form, errors=invalid.errors, slot=slot, status=400)
        db.session.commit()
        flash(_("Module saved in the draft."), "success")
        return _back_to_editor("modules")
    return _module_form(spec, module)


@blueprint.post("/decoration/modules/<module_id>/move")
@require("store.manage")
def decoration_module_move(module_id: str):
    try:
        services.move_module(current_user, module_id, request.form.get("direction", ""))
    except DecorationError as error:
        if error.status_code == 404:
            raise
        flash(error.message, "error")
        return _back_to_editor("modules")
    db.session.commit()
    return _back_to_editor(f"module-{module_id}")


@blueprint.post("/decoration/modules/<module_id>/remove")
@require("store.manage")
def decoration_module_remove(module_id: str):
    services.remove_module(current_user, module_id)
    db.session.commit()
    flash(_("Module removed from the draft."), "success")
    return _back_to_editor("modules")


@blueprint.post("/decoration/publish")
@require("store.manage")
def decoration_publish():
    try:
        version = services.publish(current_user)
    except DecorationError as error:
        flash(error.message, "error")
        return _back_to_editor()
    db.session.commit()
    flash(_("Version %(n)s is published: buyers see it now.", n=version.version), "success")
    return _back_to_editor()


@blueprint.post("/decoration/versions/<int:version>/restore")
@require("store.manage")
def decoration_restore(version: int):
    publish_now = request.form.get("publish") == "1"
    try:
        services.restore_version(current_user, version, publish_now=publish_now)
    except DecorationError as error:
        if error.status_code == 404:
            raise
        flash(error.message, "error")
        return _back_to_editor("versions")
    db.session.commit()
    if publish_now:
        flash(_("Version %(n)s is restored and published.", n=version), "success")
    else:
        flash(_("Version %(n)s is restored into the draft. Preview it, then publish.", n=version), "success")
    return _back_to_editor()


@blueprint.get("/decoration/preview")
@require("store.manage")
def decoration_preview():
    device = request.args.get("device", "desktop")
    if device not in PREVIEW_DEVICES:
        device = "desktop"
    version = request.args.get("version", type=int)
    if version is not None:
        services.get_version(version)  # 404 for an unknown version
        page_url = url_for("merchant.decoration_version_page", version=version)
    else:
        page_url = url_for("merchant.decoration_preview_page")
    return render_template(
        "merchant/decoration/preview.html",
        device=device,
        devices=PREVIEW_DEVICES,
        width=PREVIEW_DEVICES[device],
        page_url=page_url,
        version=version,
    )


def _page(shown: Decoration) -> str:
    return render_store_page(g.merchant, shown, preview=True)


@blueprint.get("/decoration/preview/page")
@require("store.manage")
def decoration_preview_page():
    """The draft exactly as buyers will see it once published (same theme templates and assets)."""
    return _page(Decoration.of_draft(services.current_draft()))


@blueprint.get("/decoration/versions/<int:version>/page")
@require("store.manage")
def decoration_version_page(version: int):
    return _page(Decoration.of_version(services.get_version(version)))
