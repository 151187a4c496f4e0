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
"""

from vastbid.sim.clock import Clock, ManualClock, ScaledClock
from vastbid.sim.config import ProcessRates, SimConfig
from vastbid.sim.faults import FaultConfig, FaultRule
from vastbid.sim.server import Simulator

__all__ = ["Clock", "FaultConfig", "FaultRule", "ManualClock", "ProcessRates", "ScaledClock", "SimConfig", "Simulator"]
