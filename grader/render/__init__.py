"""Every medium a result is shown in: `report` (JSON, HTML, terminal summary), `visibility` (the
student view), `pages` (the one autoescaped Jinja environment, with `templates/`) and `plots`
(bounded PNGs with plain-text labels). Student-controlled strings are escaped here, never upstream.
"""
