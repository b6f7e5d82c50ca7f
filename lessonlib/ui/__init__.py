"""The presentation layer every lesson shares: the widget base class (``widgetkit``), the one static-figure
factory and ``show`` (``figures``), the course style (``style``), the notebook set-up (``notebook``) and the
environment check of notebook 00 (``envcheck``). It may import the core, never a lesson."""
