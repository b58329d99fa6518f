// Command report turns a bench/run.sh JSON file into Markdown tables: per
// engine and scenario, the median over the rounds of Roster's and the
// baseline's throughput and latencies, and their ratio; the bench/load
// scenarios' figures against their targets; and, when both engines ran,
// how much slower PostgreSQL is than SQLite in each scenario.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type row struct {
	Engine       string  `json:"engine"`
	Scenario     string  `json:"scenario"`
	Target       string  `json:"target"`
	Round        int     `json:"round"`
	RPS          float64 `json:"requests_per_s"`
	P50          string  `json:"p50"`
	P99          string  `json:"p99"`
	Errors       int     `json:"errors"`
	PeakRSS      int64   `json:"peak_rss_bytes"`
	ReadyMS      int64   `json:"ready_ms"`
	IdleRSSBytes int64   `json:"idle_rss_bytes"`

	// The bench/load rows: a figure against a goal, and the number compared
	// across engines, better when higher or lower.
	Figure string  `json:"figure"`
	Goal   string  `json:"goal"`
	Met    bool    `json:"met"`
	Value  float64 `json:"value"`
	Better string  `json:"better"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// ms reads a wrk latency ("1.23ms", "812.00us", "1.02s") as milliseconds.
func ms(s string) float64 {
	for _, unit := range []string{"us", "ms", "s"} {
		if v, ok := strings.CutSuffix(s, unit); ok {
			if d, err := time.ParseDuration(v + unit); err == nil {
				return float64(d) / float64(time.Millisecond)
			}
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return 0
}

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var rows []row
	if err := json.Unmarshal(b, &rows); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	type key struct{ engine, scenario, target string }
	rps, p50, p99 := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	errs, rss := map[key]int{}, map[key]int64{}
	var order []key
	fmt.Println("| engine | scenario | Roster req/s | p50 ms | p99 ms | baseline req/s | baseline p99 ms | ratio | errors | Roster peak RSS MB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	var starts, targets []row
	// cmp holds each scenario's figure per engine, as a throughput (higher
	// is better) or a time (lower is better).
	type figure struct {
		v      float64
		higher bool
	}
	cmp := map[string]map[string]figure{}
	var cmpOrder []string
	note := func(engine, scenario string, f figure) {
		if cmp[scenario] == nil {
			cmp[scenario] = map[string]figure{}
			cmpOrder = append(cmpOrder, scenario)
		}
		cmp[scenario][engine] = f
	}
	for _, r := range rows {
		if r.Scenario == "start" {
			starts = append(starts, r)
			continue
		}
		if r.Goal != "" {
			targets = append(targets, r)
			continue
		}
		k := key{r.Engine, r.Scenario, r.Target}
		if _, seen := rps[k]; !seen && r.Target == "roster" {
			order = append(order, k)
		}
		rps[k] = append(rps[k], r.RPS)
		p50[k] = append(p50[k], ms(r.P50))
		p99[k] = append(p99[k], ms(r.P99))
		errs[k] += r.Errors
		rss[k] = max(rss[k], r.PeakRSS)
	}
	for _, k := range order {
		base := key{k.engine, k.scenario, "baseline"}
		ratio := 0.0
		if m := median(rps[base]); m > 0 {
			ratio = median(rps[k]) / m
		}
		fmt.Printf("| %s | `%s` | %.0f | %.1f | %.1f | %.0f | %.1f | %.2f | %d | %d |\n", k.engine, k.scenario, median(rps[k]), median(p50[k]),
			median(p99[k]), median(rps[base]), median(p99[base]), ratio, errs[k], rss[k]>>20)
		note(k.engine, "`"+k.scenario+"` (req/s)", figure{median(rps[k]), true})
	}
	fmt.Println()
	for _, s := range starts {
		fmt.Printf("- %s: ready in %d ms, idle RSS %d MB\n", s.Engine, s.ReadyMS, s.IdleRSSBytes>>20)
	}
	if len(targets) > 0 {
		fmt.Println()
		fmt.Println("| engine | scenario (bench/load) | figure | target | |")
		fmt.Println("|---|---|---|---|---|")
		for _, r := range targets {
			verdict := "met"
			if !r.Met {
				verdict = "**missed**"
			}
			fmt.Printf("| %s | %s | %s | %s | %s |\n", r.Engine, r.Scenario, r.Figure, r.Goal, verdict)
			if r.Better != "" { // a pass or fail, not a figure to compare across engines
				note(r.Engine, r.Scenario, figure{r.Value, r.Better != "lower"})
			}
		}
	}
	printEngines(cmpOrder, func(scenario string) (sqlite, postgres float64, higher, ok bool) {
		s, okS := cmp[scenario]["sqlite"]
		p, okP := cmp[scenario]["postgres"]
		return s.v, p.v, s.higher, okS && okP
	})
}

// printEngines prints how many times slower PostgreSQL is than SQLite in
// each scenario both ran (issue 11: none more than 3× without a written
// reason).
func printEngines(scenarios []string, of func(string) (sqlite, postgres float64, higher, ok bool)) {
	header := false
	for _, sc := range scenarios {
		s, p, higher, ok := of(sc)
		if !ok {
			continue
		}
		if !header {
			fmt.Println()
			fmt.Println("| scenario | SQLite | PostgreSQL | PostgreSQL slower by | |")
			fmt.Println("|---|---|---|---|---|")
			header = true
		}
		slower := p / s // a time: PostgreSQL's over SQLite's
		if higher {
			slower = s / p
		}
		flag := ""
		if s <= 0 || p <= 0 {
			slower, flag = 0, "no figure"
		} else if slower > 3 {
			flag = "**> 3×: needs a written reason**"
		}
		fmt.Printf("| %s | %.4g | %.4g | %.2f× | %s |\n", sc, s, p, slower, flag)
	}
}
