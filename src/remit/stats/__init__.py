"""Trial-agnostic statistics on arrays and long-format data frames.

Nothing here knows what a participant, a visit code or a scale is: arguments are columns
(``y=``, ``subject=``, ``visit=``, ``group=``) or arrays. Functions never print and never round.
"""

from remit.stats.mmrm import MMRMResult as MMRMResult
from remit.stats.mmrm import fit_mmrm as fit_mmrm
