"""The deployment list: a `default` per flow, presets whose JSON parameters rebuild the preset configs."""

from __future__ import annotations

from flows import deployments as d
from flows import flows as f


def test_every_flow_has_a_default_deployment_and_presets_validate():
    deps = d.deployments()
    names = {f"{dep.flow_name}/{dep.name}" for dep in deps}
    flows = ("ingest-market-data", "train-lvae", "validate-lvae", "backtest", "walk-forward")
    assert {dep.flow_name for dep in deps} == set(flows)  # one walk-forward: the library's, no second one
    for flow in flows:
        assert f"{flow}/default" in names
    assert "walk-forward/quick" in names
    assert {"validate-lvae/mnist-paper", "validate-lvae/omniglot-paper", "validate-lvae/norb-paper"} <= names
    by_name = {f"{dep.flow_name}/{dep.name}": dep for dep in deps}
    assert all(dep.entrypoint.startswith("flows.flows.") for dep in deps)  # module path: any working directory
    checks = {"validate-lvae/mnist-paper": (f.validate_lvae, d.MNIST_PAPER),
              "train-lvae/quick": (f.train_lvae, d.LVAE_QUICK),
              "backtest/quick": (f.backtest, d.AGENT_QUICK),
              "walk-forward/quick": (f.walk_forward, d.REFIT_QUICK)}  # fmt: skip
    for name, (flow, preset) in checks.items():
        assert flow.validate_parameters(by_name[name].parameters)["cfg"] == preset
    assert by_name["train-lvae/default"].parameters == {} == by_name["walk-forward/default"].parameters
    assert d.MNIST_PAPER.epochs == 2000 and d.MNIST_PAPER.iw_samples == 5000 and d.MNIST_PAPER.layers == 5


def test_partial_json_parameters_take_the_dataclass_defaults():
    cfg = f.train_lvae.validate_parameters({"cfg": {"epochs": 3, "latent_dims": [4, 2], "encode_layers": [1]}})["cfg"]
    assert cfg == f.BuildConfig(epochs=3, latent_dims=(4, 2), encode_layers=(1,))


def test_a_partial_walk_forward_parameter_takes_the_walk_forwards_own_defaults_as_the_command_line_does():
    from envs.walkforward import FoldAgent, FoldData, WalkForwardConfig, _parse

    given = {"agent": {"timesteps": 1000}, "data": {"start": "2012-01-01"}, "progress": False}
    cfg = f.walk_forward.validate_parameters({"cfg": given})["cfg"]
    expected = WalkForwardConfig(data=FoldData(start="2012-01-01"), agent=FoldAgent(timesteps=1000), progress=False)
    assert cfg == expected == _parse(["--timesteps", "1000", "--start", "2012-01-01", "--no-progress"])
    assert (cfg.agent.seeds, cfg.agent.progress, cfg.data.train_end) == (5, False, None)


def test_parameters_are_checked_by_the_configs_post_init():
    import pytest
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match="encode_layers"):
        f.train_lvae.validate_parameters({"cfg": {"latent_dims": [4, 2]}})  # encode_layers (0, 1, 2) default
