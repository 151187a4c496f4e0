"""The simulated Vast.ai marketplace: model, processes, faults, and its two HTTP surfaces.

::

    from vastbid.sim import Simulator, SimConfig, FaultConfig, ManualClock, ScaledClock
    clock = ManualClock(start=1_800_000_000.0)
    sim = Simulator(SimConfig(seed=7, scenario="default", api_key="sim-key", lowcode_token="sim-token"), clock=clock)
    sim.wsgi_app          # WSGI app: /api/v0/..., /api/v1/..., /vastai/...
    sim.transport()       # httpx transport for httpx.Client(transport=..., base_url="http://sim.local")
    sim.advance(seconds)  # manual clock: move on and run the market up to the new time
    sim.faults            # mutable FaultConfig
    with sim.serve(host="127.0.0.1", port=0) as url: ...
    sim.state             # the Market, for inspection

Non-native extras: instance JSON carries ``sim_progress_hours``; env ``SIM_WORK_HOURS`` (work to do after boot)
and ``SIM_CHECKPOINT`` (a key whose progress survives moves between instances) drive the workload model.

Choices where Vast is silent (the adapters may rely on them):
- a create (or LowCode bid) under the minimum bid answers HTTP 200 ``{"success": false, "error":
  "insufficient_bid", "msg", "new_contract"}``; the instance exists, stopped, billing storage;
- ``GET /api/v0/instances/`` answers 200 ``deprecated_endpoint``; a search without ``limit`` returns 64 offers;
- ``balance`` and ``credit`` of the user are both the remaining credit (initial deposit minus charges);
- outbid: actual ``stopped`` and intended/cur/next ``stopped``, ``status_msg`` mentions "outbid"; scheduling
  (started, waiting for GPUs): intended/next ``running``, cur ``stopped``; an exited workload: actual ``exited``,
  intended ``running``, cur/next ``stopped``, "container exited with code 0"; ``actual_status`` is null for the
  first ``provisioning_seconds`` after a create, then ``loading`` until boot ends (GPU billed only after);
- GPU names are Vast's: "RTX 3090", "RTX 4090", "RTX 5090", "RTX A6000", "L40S", "A100 SXM4", "H100 SXM",
  "Tesla V100"; trace mode uses the trace file's name;
- limit orders (LowCode bids without ``offer_id``) are never filled from the account's own machines;
- the v1 instance listing pages by key (its opaque token names the last row served, in the requested order, id
  last); ``faults.offset_paging = True`` pages by offset instead; the LowCodeAPI listing pages by ``offset``;
- rate limits are off until ``faults.rate_limits`` (or ``faults.use_vast_rate_limits()``) sets them.
"""

from vastbid.sim.clock import Clock, ManualClock, ScaledClock
from vastbid.sim.config import ProcessRates, SimConfig
from vastbid.sim.faults import FaultConfig, FaultRule
from vastbid.sim.server import Simulator

__all__ = ["Clock", "FaultConfig", "FaultRule", "ManualClock", "ProcessRates", "ScaledClock", "SimConfig", "Simulator"]
