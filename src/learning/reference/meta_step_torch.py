"""One GMPS meta-gradient Adam step in plain PyTorch (CPU), the reference for `gmps bench meta-step --torch`.

Same problem as the tfjs benchmark: a Gaussian MLP (obs + bias-transformation z of size 4,
hidden 100-100 ReLU, state-independent log-std), per-element learned step sizes alpha for every
parameter, T tasks x n pre-update samples x m demonstration rows. Per task, in a loop (the usual
PyTorch formulation):
    w     = exp(log pi_theta(a|s) - log pi_theta0(a|s))    (detached)
    L_in  = -mean(log pi_theta(a|s) * w * A)
    phi   = theta - alpha * grad(L_in)                       (create_graph: second order)
    L_out += mean((mu_phi(s*) - a*)^2) / T
then backward through everything into theta and alpha and one Adam step.
Prints one JSON line: {"torch_version", "threads", "ms_per_step" (median), "ms_per_step_min", "repeats"}.
"""
import json
import sys
import time

import torch


def main() -> None:
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    T = int(args.get("tasks", 20))
    n = int(args.get("samples", 2000))
    m = int(args.get("demos", 2000))
    obs_dim = int(args.get("obs_dim", 6))
    repeats = int(args.get("repeats", 5))
    act_dim, latent, hidden = 3, 4, 100
    g = torch.Generator().manual_seed(0)

    def param(*shape, scale=0.1):
        return (torch.randn(*shape, generator=g) * scale).requires_grad_()

    theta = {
        "z": param(latent),
        "w0": param(obs_dim + latent, hidden),
        "b0": param(hidden),
        "w1": param(hidden, hidden),
        "b1": param(hidden),
        "w2": param(hidden, act_dim),
        "b2": param(act_dim),
        "log_std": torch.zeros(act_dim, requires_grad=True),
    }
    alpha = {k: torch.full_like(v, 0.5).requires_grad_() for k, v in theta.items()}
    opt = torch.optim.Adam(list(theta.values()) + list(alpha.values()), lr=1e-3)

    def mean(p, obs):
        x = torch.cat([obs, p["z"].expand(obs.shape[0], latent)], 1)
        h = torch.relu(x @ p["w0"] + p["b0"])
        h = torch.relu(h @ p["w1"] + p["b1"])
        return h @ p["w2"] + p["b2"]

    def log_prob(p, obs, act):
        mu = mean(p, obs)
        std = torch.exp(p["log_std"])
        return (-0.5 * ((act - mu) / std) ** 2 - p["log_std"] - 0.5 * torch.log(torch.tensor(2 * torch.pi))).sum(1)

    data = []
    for _ in range(T):
        obs = torch.rand(n, obs_dim, generator=g) * 2 - 1
        act = torch.rand(n, act_dim, generator=g) * 2 - 1
        adv = torch.randn(n, generator=g)
        with torch.no_grad():
            old = log_prob(theta, obs, act)
        demo_obs = torch.rand(m, obs_dim, generator=g) * 2 - 1
        demo_act = torch.rand(m, act_dim, generator=g) * 2 - 1
        data.append((obs, act, adv, old, demo_obs, demo_act))

    names = list(theta)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        total = 0.0
        for obs, act, adv, old, demo_obs, demo_act in data:
            lp = log_prob(theta, obs, act)
            w = torch.exp(lp.detach() - old)
            inner = -(lp * w * adv).mean()
            grads = torch.autograd.grad(inner, [theta[k] for k in names], create_graph=True)
            phi = {k: theta[k] - alpha[k] * gk for k, gk in zip(names, grads)}
            total = total + ((mean(phi, demo_obs) - demo_act) ** 2).mean() / T
        total.backward()
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
    times = sorted(times[1:])
    k = len(times) // 2
    med = times[k] if len(times) % 2 else (times[k - 1] + times[k]) / 2
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(), "ms_per_step": med, "ms_per_step_min": times[0], "repeats": repeats}))


if __name__ == "__main__":
    main()
