"""Pages shared by every area: health check, language switch, media and private files."""

from mall.web.views import blueprint

__all__ = ["blueprint"]
