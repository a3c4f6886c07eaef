// Package optimizer chooses a model variant for every ML stage of a workflow and a set of workers (hosts)
// for every stage, at the least compute + communication cost in $/hour, under an end-to-end accuracy
// target and an input rate. It reproduces the cost model and the greedy heuristic of the original
// JellyBean optimizer, and adds an exact branch and bound and a MILP baseline over the same model. It is
// pure: readers live in plan/optimizer/inputs, and the solvers take a *Problem and return a *Solution
// without touching files or the network.
//
// The cost model is described below in sections §5.1–§5.8; comments elsewhere in the package cite them.
//
// # §5.1 Inputs and units
//
// Prices are $/hour per worker; the order of the workers file fixes the worker index used in every
// tie-break. A profiled latency (ms, times LATENCY_OVERESTIMATE_RATIO) gives the capacity
// cap(v,w) = 1000/latency in req/s, written exactly as 1000./latency; a worker with no latency for a
// stage's variant cannot serve it. Message sizes are KB per request of the receiving stage, looked up
// for the exact variant pair first, then with "default" on the sender, then on the receiver, then on both.
// A source emits its injection rate; a stage must sustain T(v) = min over its inputs u of T(u)·ratio(u,v)
// (ratio 1 unless listed). Links are directed worker→worker or source→worker costs in $/GB, unlisted
// pairs free, each multiplied once by COMM_COST_SCALING_FACTOR S when read. Tiers are the indices of the
// partition file; sources count as tier 0.
//
// # §5.2 Compute cost
//
// A worker serves at most one stage and is paid its full hourly price whatever its load. Compute cost is
// the sum over stages (in assignment order) of the sum of the prices of the stage's workers.
//
// # §5.3 Splitting a stage's rate
//
// A stage's workers form an ordered list and T(v) is poured into it: each worker takes its whole capacity
// until the remainder is smaller, and the next one takes that remainder (Pour). Every worker but the last
// therefore runs at capacity. The heuristic orders the list by its greedy picks, brute force by worker
// index; which worker comes last decides the shares, and so the communication cost.
//
// # §5.4 Communication cost
//
// With U = 3600/1024/1024 (KB/s → GB/hour), for each logical edge u→v:
//
//   - u a source: v's worker w receives t(v,w)·msg KB/s; it is charged Ls(u,w)·that·U if w is on a tier
//     above 0. Traffic into tier 0 is free even when a link cost is listed.
//   - u a stage: with B = T(v)·msg, sender a emits tx(a) = t(u,a)·B/T(u) and receiver b takes
//     rx(b) = t(v,b)·B/T(v). Each sender spreads its output over the receivers in proportion to their
//     shares, so the pair carries tx(a)·rx(b)/B. A pair from a lower to a higher tier is charged
//     L(a,b)·traffic·U; a pair within one tier is free; a pair from a higher to a lower tier (backward)
//     makes the whole plan infeasible (+Inf), even if it carries nothing.
//
// The products are evaluated left to right exactly as written (cost·kbps·3600/1024/1024, each product
// wrapped so no fused multiply-add changes the last bits), summing edges in input order into one
// running double. The reported communication cost is total − compute, as the original prints it.
//
// # §5.5 Worked example: the medium instance at accuracy 56
//
// Nine workers in two tiers (cpu-1…cpu-5 in tier 0; cpu-6, gpu-1…gpu-3 in tier 1), an image source (IMG)
// and an audio source (AUD) at 40 req/s, stages EIF (image features), SR (the recogniser) and the join J,
// every stage at T = 40, links tier 0 → tier 1 at 1.0 and S = 0.1, so every charged pair costs 0.1 $/GB.
// (The instance's files spell the stages out; the abbreviations here are ours.) The original's heuristic
// plan uses resnet18, wav2vec2-large and J's default model:
//
//	stage  worker (tier)  latency ms           cap = 1000/latency   share
//	EIF    cpu-1 (0)      135.08435991666667   7.402781496073257    7.402781496073257
//	EIF    cpu-2 (0)      100.29564166666667   9.970522979687468    9.970522979687468
//	EIF    cpu-5 (0)      36.69487933333333    27.25175877855001    22.626695524239274
//	SR     gpu-1 (1)      26.894737666666668   37.18199494614888    37.18199494614888
//	SR     cpu-3 (0)      299.6520658333333    3.337203757361048    2.8180050538511168
//	J      cpu-6 (1)      11.13725625          89.78872152645316    40
//
// Compute: (0.096 + 0.192 + 0.768) + (2.497 + 0.384) + 2.305 = 6.242. Communication:
//
//   - IMG → EIF (794.03 KB): every EIF worker is on tier 0, so nothing is charged.
//   - AUD → SR (97.07174682617188 KB): only gpu-1 is above tier 0; 37.18199494614888 ×
//     97.07174682617188 = 3609.321199904566 KB/s, charged 0.1·3609.32…·U = 1.2391620940834462.
//   - EIF → J (2.00390625 KB, B = 80.15625 KB/s): cpu-6 receives everything, so each EIF worker's
//     whole output crosses from tier 0 to tier 1: 0.005093014563228224 + 0.006859586327853357 +
//     0.01556686360171627.
//   - SR → J (0.1 KB, B = 4): gpu-1 → cpu-6 is within tier 1 and free; cpu-3 → cpu-6 carries
//     2.8180050538511168 × 4/40 KB/s, charged 9.674852556098959e-05.
//
// Communication 1.266778307101805, total 7.508778307101805, printed communication 1.2667783071018048.
// The optimum of the same model (exact solver, brute force and the CBC MILP agree) replaces SR's workers
// by [cpu-4, gpu-1]: cpu-4 runs at 1000/283.15181 = 3.531674404624148 req/s and gpu-1 takes the other
// 36.46832559537585, so the charged audio traffic falls to 3540.0440693687283 KB/s (1.2153776788451598)
// and cpu-4 → cpu-6 costs 0.00012125041824957785: communication 1.2430183937562072, total
// 7.485018393756207, 0.317 % below the heuristic's plan.
//
// # §5.6 The original's heuristic
//
// (a) Variants: a beam search from the sink backwards over the per-operator accuracy samples keeps the
// BEST_K cheapest candidates by profiled cost; each final candidate's accuracy comes from the end-to-end
// table. (b) Workers, per variant combination: for each of at most MAX_NUM_ASSIGN_ORDERS topological
// orders, a beam of BEST_K_ASSIGNMENTS states places one stage at a time on tiers from the highest tier
// of its inputs upwards, greedily: a single worker of the lowest tier that covers the rate alone if one
// exists (cheapest price + estimated traffic), else workers by (price + traffic at capacity)/capacity,
// switching to the cheapest single worker able to cover the remainder once one exists. Its traffic
// estimates charge every listed link whatever the tiers. States are stably sorted by running cost.
// (c) Selection: the cheapest total under §5.4, or one within numpy's allclose of it with strictly
// higher accuracy. Heuristic reproduces the original's printed result on the medium example exactly.
//
// # §5.7 Exact search
//
// Brute force enumerates, per combination meeting the target, every worker subset per stage with index
// order splits. Exact searches every subset and every split: the cost is bilinear in the shares, so an
// optimum has every worker of a stage at capacity but one, and only those vertices are enumerated (see
// README.md for the bounds, the tier windows and the count branching). The MILP (milp.go) is a third
// formulation for a general solver.
//
// # §5.8 Reproducibility
//
// The original orders nodes by a string hash, which permutes the edge order of the evaluator and the
// topological orders; costs agree across such orders to a few ulps, so tests compare with a relative
// tolerance of about 1e-12 except where the example is stable bit for bit (7.485018393756207).
package optimizer
