"""Rules two or more domains share (field formats, daily allowances, schedules).

Nothing here belongs to one domain or knows another's vocabulary; a domain may
import it freely. A rule that is one domain's own stays in that domain's folder.
"""
