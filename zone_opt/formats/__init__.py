"""The files a user writes, one schema each: read, checked and named in the user's words.

Each format is a :class:`~zone_opt.formats.base.Format`: a strict pydantic model (an
unknown key is an error with a "did you mean"), physical bounds on every quantity, and one
:class:`~zone_opt.errors.InvalidInputError` listing every problem with its file, line, key
path, value and rule. The libraries build their domain objects from the validated models;
nothing here imports them.

================  ===========================  =====================================
format            model                        read by
================  ===========================  =====================================
dispatch          :class:`.dispatch.ScenarioFile`    ``optimise.dispatch.load_scenario``
facilities        :class:`.facilities.FacilitiesFile`  ``optimise.facilities.load_scenarios``
carbon park       :class:`.carbon_park.ParkFile`     ``carbon.park.load_park_config``
tokens            :class:`.tokens.TokenFile`         ``formats.tokens.load_tokens``
join peers        :class:`.peers.PeersFile`          ``formats.peers.load_join_peers``
================  ===========================  =====================================

The JSON Schema of each (``zone_opt/formats/schemas/<name>.schema.json``, for editors) and
its reference page (``docs/formats/<name>.md``) are generated from the models by
``python -m zone_opt.formats.generate``; a test checks they are current.
"""

from typing import Any

from zone_opt.formats.base import Format
from zone_opt.formats.carbon_park import CARBON_PARK
from zone_opt.formats.dispatch import DISPATCH
from zone_opt.formats.document import Document
from zone_opt.formats.facilities import FACILITIES
from zone_opt.formats.peers import PEERS
from zone_opt.formats.tokens import TOKENS

#: Every format, in the order the reference lists them.
FORMATS: tuple[Format[Any], ...] = (DISPATCH, FACILITIES, CARBON_PARK, TOKENS, PEERS)

__all__ = [
    "CARBON_PARK",
    "DISPATCH",
    "FACILITIES",
    "FORMATS",
    "PEERS",
    "TOKENS",
    "Document",
    "Format",
]
