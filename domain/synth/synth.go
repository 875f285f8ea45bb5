// Package synth generates synthetic practices: deterministic from a seed,
// with an England-like age and sex structure, published disease
// prevalences, plausible lab values and blood pressures over several years,
// declines, invitations, frailty, joiners and leavers, deaths, childhood
// vaccination histories and flu vaccinations in season. Codes are picked
// from the cluster file by cluster name (the shipped sample, or the release
// a deployment loads), so the generator and the rules can never disagree
// about what a code means.
//
// Each patient is generated from its own random stream (seed, index), so
// the output does not depend on how patients are split into batches.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
)

// Options chooses the practice.
type Options struct {
	Practice string
	Patients int
	Seed     int64
	// AchDate: records run up to about this date (a few events fall a
	// little after it, as in a live record).
	AchDate domain.Date
	// FirstIndex offsets patient numbering, so that several practices can
	// be generated with disjoint ids.
	FirstIndex int
	// Clusters is the cluster file codes are picked from; nil for the
	// shipped sample. A cluster with no codes in it is simply not recorded
	// (with the sample: learning disability health checks).
	Clusters *rules.Clusters
}

func (o *Options) defaults() {
	if o.Practice == "" {
		o.Practice = "A81001"
	}
	if !o.AchDate.Valid() || o.AchDate == 0 {
		o.AchDate = domain.DateOf(2026, 3, 31)
	}
}

// codebook picks real codes for a cluster.
type codebook struct {
	codes map[string][]clinical.Code
}

var (
	shipped     *codebook
	booksMu     sync.Mutex
	otherBooks  = map[*rules.Clusters]*codebook{}
	shippedOnce sync.Once
)

func bookOf(cl *rules.Clusters) *codebook {
	b := &codebook{codes: map[string][]clinical.Code{}}
	for _, n := range cl.Names() {
		b.codes[n] = cl.Codes(n)
	}
	return b
}

// loadBook returns the codebook of a cluster file (nil: the shipped one),
// built once per file.
func loadBook(cl *rules.Clusters) *codebook {
	if cl == nil {
		shippedOnce.Do(func() {
			sc, err := rulesets.Clusters()
			if err != nil {
				panic(fmt.Sprintf("synth: shipped cluster file does not load: %v", err))
			}
			shipped = bookOf(sc)
		})
		return shipped
	}
	booksMu.Lock()
	defer booksMu.Unlock()
	b, ok := otherBooks[cl]
	if !ok {
		b = bookOf(cl)
		otherBooks[cl] = b
	}
	return b
}

func init() { loadBook(nil) }

// noise codes: common primary care findings outside every shipped cluster,
// so that records have realistic bulk (about 50 coded events a patient).
var noise = []clinical.Code{
	386661006, // Fever
	49727002,  // Cough
	25064002,  // Headache
	22253000,  // Pain
	267036007, // Dyspnea
	68566005,  // Urinary tract infectious disease
	271737000, // Anemia
	56018004,  // Wheezing
	62315008,  // Diarrhea
	27113001,  // Body weight
	50373000,  // Body height
	35489007,  // Depressive disorder
}

// gen holds one patient's generation state.
type gen struct {
	r    *rand.Rand
	ach  domain.Date
	p    *clinical.Patient
	seq  uint32
	book *codebook
	seed int64
	idx  int
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// between returns a uniform date in [lo, hi]; lo when hi < lo.
func (g *gen) between(lo, hi domain.Date) domain.Date {
	if hi <= lo {
		return lo
	}
	return lo + domain.Date(g.r.IntN(int(hi-lo)+1))
}

func (g *gen) norm(mean, sd float64) float64 { return mean + sd*g.r.NormFloat64() }

// add records an event with a code from the cluster (nothing if the
// cluster has no members in the loaded file).
func (g *gen) add(cluster string, d domain.Date, kind clinical.Kind, vals ...float32) {
	codes := g.book.codes[cluster]
	if len(codes) == 0 {
		return
	}
	g.addCode(codes[g.r.IntN(len(codes))], d, kind, vals...)
}

func (g *gen) addCode(code clinical.Code, d domain.Date, kind clinical.Kind, vals ...float32) {
	if d < g.p.Birth {
		d = g.p.Birth
	}
	e := clinical.Event{Date: d, Code: code, Kind: kind, Seq: g.seq}
	g.seq++
	switch len(vals) {
	case 1:
		e.NVal, e.V1 = 1, vals[0]
	case 2:
		e.NVal, e.V1, e.V2 = 2, vals[0], vals[1]
	}
	g.p.Events = append(g.p.Events, e)
}

// ageBands approximates England's population by age (ONS mid-year shape).
var ageBands = []struct {
	lo, hi int
	w      float64
}{
	{0, 4, 5.4}, {5, 14, 11.8}, {15, 24, 11.5}, {25, 34, 13.5}, {35, 44, 13.0},
	{45, 54, 13.2}, {55, 64, 12.3}, {65, 74, 10.0}, {75, 84, 6.8}, {85, 99, 2.5},
}

func (g *gen) age() int {
	total := 0.0
	for _, b := range ageBands {
		total += b.w
	}
	x := g.r.Float64() * total
	for _, b := range ageBands {
		if x < b.w {
			return b.lo + g.r.IntN(b.hi-b.lo+1)
		}
		x -= b.w
	}
	return 40
}

// Patient generates patient number i of the practice.
func Patient(opt Options, i int) clinical.Patient {
	opt.defaults()
	idx := opt.FirstIndex + i
	r := rand.New(rand.NewPCG(uint64(opt.Seed), uint64(idx)*0x9E3779B97F4A7C15+1))
	ach := opt.AchDate
	p := clinical.Patient{ID: fmt.Sprintf("%s-%07d", opt.Practice, idx), Death: domain.NoDate}
	g := &gen{r: r, ach: ach, p: &p, book: loadBook(opt.Clusters), seed: opt.Seed, idx: idx}
	age := g.age()
	p.Birth = ach.AddYears(-age - 1).AddDays(1 + r.IntN(365))
	age = p.Birth.AgeOn(ach)
	p.Sex = clinical.SexMale
	if g.chance(0.5 + 0.002*float64(max(age-50, 0))) {
		p.Sex = clinical.SexFemale
	}
	p.NHSNumber = nhsNumber(r)

	// Registration: most long-standing; joiners and leavers in the year,
	// a few future registrations, and deaths.
	start := g.between(max(p.Birth, ach.AddYears(-30)), ach.AddYears(-1))
	switch x := r.Float64(); {
	case x < 0.1: // joined in the last year
		start = g.between(ach.AddYears(-1), ach)
	case x < 0.115: // registers after the achievement date
		start = g.between(ach.AddDays(1), ach.AddDays(60))
	}
	if start < p.Birth {
		start = p.Birth
	}
	end := domain.NoDate
	if start < ach && g.chance(0.04) { // left in the year
		end = g.between(max(start, ach.AddYears(-1)), ach.AddDays(-1))
	}
	deathP := 0.001
	if age >= 75 {
		deathP = 0.05
	} else if age >= 60 {
		deathP = 0.01
	}
	if start < ach && !end.Valid() && g.chance(deathP) {
		// died in the year, while registered
		p.Death = g.between(max(start, ach.AddYears(-1)), ach.AddDays(-1))
		end = p.Death
	}
	p.Regs = []clinical.Registration{{Practice: opt.Practice, Start: start, End: end, Type: "regular"}}
	if g.chance(0.05) && start > p.Birth.AddYears(2) { // an earlier spell elsewhere
		p.Regs = append(p.Regs, clinical.Registration{Practice: "Y99999", Start: g.between(p.Birth, start), End: start.AddDays(-1), Type: "regular"})
	}

	g.history(age, start > ach.AddMonths(-9))
	clinical.SortEvents(p.Events)
	return p
}

// nhsNumber makes a 10-digit number with a valid modulus-11 check digit.
func nhsNumber(r *rand.Rand) string {
	for {
		var d [10]int
		d[0] = 4 + r.IntN(3)
		sum := d[0] * 10
		for k := 1; k < 9; k++ {
			d[k] = r.IntN(10)
			sum += d[k] * (10 - k)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check == 10 {
			continue
		}
		d[9] = check
		b := make([]byte, 10)
		for k := range d {
			b[k] = byte('0' + d[k])
		}
		return string(b)
	}
}

// onset picks a diagnosis date: mostly years ago, some recent.
func (g *gen) onset(minAge int) domain.Date {
	lo := max(g.p.Birth.AddYears(minAge), g.ach.AddYears(-25))
	if g.chance(0.1) {
		lo = max(lo, g.ach.AddMonths(-9))
	}
	return g.between(lo, g.ach)
}

func (g *gen) history(age int, newReg bool) {
	ach := g.ach
	// care recorded in the last year is thinner for new registrations
	care := func(p float64) float64 {
		if newReg {
			return p / 2
		}
		return p
	}
	female := g.p.Sex == clinical.SexFemale
	band := func(bands map[int]float64) float64 {
		best, p := -1, 0.0
		for lo, v := range bands {
			if age >= lo && lo > best {
				best, p = lo, v
			}
		}
		return p
	}

	// Background record bulk, by age.
	mean := 14.0 + 0.9*float64(age)
	if age < 5 {
		mean = 12
	}
	n := int(math.Max(0, g.norm(mean, mean/3)))
	for k := 0; k < n; k++ {
		d := g.between(max(g.p.Birth, ach.AddYears(-15)), ach.AddDays(30))
		code := noise[g.r.IntN(len(noise))]
		switch code {
		case 27113001:
			g.addCode(code, d, clinical.KindObservation, float32(math.Round(g.norm(78, 15))))
		case 50373000:
			g.addCode(code, d, clinical.KindObservation, float32(math.Round(g.norm(168, 10))))
		default:
			g.addCode(code, d, clinical.KindCondition)
		}
	}

	hyp := g.chance(band(map[int]float64{0: 0, 30: 0.05, 45: 0.14, 55: 0.27, 65: 0.42, 75: 0.56}))
	dm := age >= 17 && g.chance(band(map[int]float64{17: 0.02, 40: 0.07, 60: 0.14, 80: 0.16}))
	chd := g.chance(band(map[int]float64{0: 0, 45: 0.025, 65: 0.08, 75: 0.14}))
	stia := g.chance(band(map[int]float64{0: 0, 50: 0.01, 65: 0.045, 75: 0.08}))
	ast := age >= 2 && g.chance(0.075)
	copd := age >= 40 && g.chance(band(map[int]float64{40: 0.015, 60: 0.05}))
	mh := age >= 16 && g.chance(0.011)
	ld := g.chance(0.006)
	frail := ""
	if age >= 65 || (dm && age >= 50) {
		switch x := g.r.Float64(); {
		case x < 0.03+0.002*float64(age-65):
			frail = "SEVFRAIL_COD"
		case x < 0.11+0.004*float64(age-65):
			frail = "MODFRAIL_COD"
		case x < 0.30:
			frail = "MILDFRAIL_COD"
		}
	}
	if frail != "" {
		g.add(frail, g.between(ach.AddYears(-4), ach), clinical.KindObservation)
		if g.chance(0.15) { // a later, different frailty grade
			g.add("MILDFRAIL_COD", g.between(ach.AddYears(-1), ach), clinical.KindObservation)
		}
	}

	// Diagnoses with occasional resolution, sometimes on the same day.
	diag := func(cl, res string, minAge int, resolveP float64) domain.Date {
		d := g.onset(minAge)
		g.add(cl, d, clinical.KindCondition)
		if g.chance(0.3) { // a later repeat coding
			g.add(cl, g.between(d, ach), clinical.KindCondition)
		}
		if res != "" && g.chance(resolveP) {
			rd := g.between(d, ach)
			if g.chance(0.1) {
				rd = d
			}
			g.add(res, rd, clinical.KindCondition)
		}
		return d
	}
	var dmDate domain.Date
	if hyp {
		diag("HYP_COD", "HYPRES_COD", 30, 0.02)
	}
	if dm {
		dmDate = diag("DM_COD", "DMRES_COD", 17, 0.015)
	}
	if chd {
		diag("CHD_COD", "", 40, 0)
	}
	if stia {
		diag("STRK_COD", "", 40, 0)
		if g.chance(0.3) {
			g.add("TIA_COD", g.onset(40), clinical.KindCondition)
		}
	}
	if ast {
		diag("AST_COD", "ASTRES_COD", 2, 0.05)
	}
	if copd {
		diag("COPD_COD", "", 40, 0)
	}
	// mhRamp: how far a mental health diagnosis is into its first half
	// year of checks (1 when established), so that the newly diagnosed
	// have mostly not had them yet.
	mhRamp := 0.0
	var mhDate domain.Date
	if mh {
		mhDate = diag("MH_COD", "", 16, 0)
		mhRamp = math.Min(1, float64(ach-mhDate)/182)
	}
	if ld {
		onset := g.onset(0)
		g.add("LD_COD", onset, clinical.KindCondition)
		g.ldHealthChecks(onset)
	}

	// Blood pressure: more often for the registers it serves.
	bpCare := hyp || dm || chd || stia || mh
	bpP := 0.2
	declinesBP := age >= 45 && g.chance(0.03)
	if age >= 45 {
		bpP = 0.3
	}
	if declinesBP {
		bpP = 0.05
	}
	bpNow := bpP // this year's chance
	if bpCare {
		bpP = 0.9
	}
	bpP = care(bpP)
	if bpCare && !(hyp || dm || chd || stia) {
		// BP for a mental health diagnosis only: checks follow it
		bpNow = care(bpNow + (0.9-bpNow)*mhRamp)
	} else {
		bpNow = bpP
	}
	sysMean := 118 + 0.35*float64(max(age-20, 0))
	if hyp {
		sysMean += 6
	}
	for y := 0; y < 6; y++ {
		p := bpP
		if y == 0 {
			p = bpNow
		}
		if age < 16 || !g.chance(p) {
			continue
		}
		d := g.between(ach.AddYears(-y-1).AddDays(1), ach.AddYears(-y))
		readings := 1
		if g.chance(0.15) {
			readings = 2 // same-day repeat: the lowest of each counts
		}
		for k := 0; k < readings; k++ {
			s := math.Round(g.norm(sysMean, 15))
			dia := math.Round(g.norm(78, 10))
			g.add("BP_COD", d, clinical.KindObservation, float32(s), float32(dia))
		}
	}
	if declinesBP {
		g.add("BPDEC_COD", g.between(ach.AddYears(-5), ach), clinical.KindObservation)
	}
	if bpCare {
		if g.chance(0.04) {
			g.add("HTMAX_COD", g.between(ach.AddMonths(-11), ach), clinical.KindObservation)
		}
		if g.chance(0.05) {
			g.add("BPDEC_COD", g.between(ach.AddMonths(-11), ach), clinical.KindObservation)
		}
	}
	if hyp {
		g.pcas("HYPPCAPU_COD", "HYPPCADEC_COD", "HYPINVITE_COD")
	}

	// Diabetes monitoring.
	if dm {
		hbMean := 56.0
		if frail == "MODFRAIL_COD" || frail == "SEVFRAIL_COD" {
			hbMean = 66
		}
		tested := false
		for y := 0; y < 4; y++ {
			if !g.chance(care(0.82)) {
				continue
			}
			tested = tested || y == 0
			tests := 1 + g.r.IntN(2)
			for k := 0; k < tests; k++ {
				d := g.between(max(dmDate, ach.AddYears(-y-1).AddDays(1)), ach.AddYears(-y))
				g.add("IFCCHBAM_COD", d, clinical.KindObservation, float32(math.Round(math.Max(30, g.norm(hbMean, 13)))))
			}
		}
		if !tested && g.chance(0.3) || g.chance(0.02) {
			g.add("SERFRUC_COD", g.between(ach.AddMonths(-11), ach), clinical.KindObservation, float32(math.Round(g.norm(280, 40))))
		}
		if g.chance(0.05) {
			g.add("DMMAX_COD", g.between(ach.AddMonths(-11), ach), clinical.KindObservation)
		}
		g.pcas("DMPCAPU_COD", "", "DMINVITE_COD")
	}

	// Asthma care.
	if ast {
		if g.chance(0.9) {
			for k := 0; k < 1+g.r.IntN(4); k++ {
				g.add("ASTTRT_COD", g.between(ach.AddMonths(-11), ach), clinical.KindMedication)
			}
		}
		if g.chance(care(0.68)) {
			d := g.between(ach.AddMonths(-11), ach)
			g.add("REV_COD", d, clinical.KindProcedure)
			if g.chance(0.9) {
				g.add("ASTCONTASS_COD", d, clinical.KindObservation, float32(10+g.r.IntN(16)))
			}
			if g.chance(0.9) {
				g.add("ASTEXACB_COD", d, clinical.KindObservation, float32(g.r.IntN(3)))
			}
			if g.chance(0.85) {
				g.add("WRITPASTP_COD", d, clinical.KindProcedure)
			}
		}
		g.pcas("ASTPCAPU_COD", "ASTPCADEC_COD", "ASTINVITE_COD")
	}

	// Smoking.
	if age >= 12 {
		status := "NEVER"
		switch x := g.r.Float64(); {
		case x < 0.13:
			status = "LSMOK_COD"
		case x < 0.38:
			status = "EXSMOK_COD"
		}
		care := hyp || dm || chd || stia || ast || copd || mh
		recP := 0.45
		if care {
			recP = 0.88
		}
		code := func(d domain.Date) {
			if status == "NEVER" {
				g.addCode(266919005, d, clinical.KindObservation) // Never smoked tobacco
			} else {
				g.add(status, d, clinical.KindObservation)
			}
		}
		code(g.between(g.p.Birth.AddYears(12), ach.AddYears(-2)))
		if g.chance(recP) {
			code(g.between(ach.AddMonths(-11), ach))
		}
		if status == "LSMOK_COD" && g.chance(0.7) {
			if g.chance(0.5) {
				g.add("REFERSSSA_COD", g.between(ach.AddMonths(-23), ach), clinical.KindProcedure)
			} else {
				g.add("PHARM_COD", g.between(ach.AddMonths(-23), ach), clinical.KindMedication)
			}
		}
		if care || status == "LSMOK_COD" {
			g.pcas("SMOKPCAPU_COD", "SMOKPCADEC_COD", "")
		}
	}

	// Mental health monitoring.
	if mh {
		since := max(mhDate, ach.AddMonths(-11))
		if g.chance(care(0.72) * mhRamp) {
			g.add("BMI_COD", g.between(since, ach), clinical.KindObservation, float32(math.Round(g.norm(29, 5))))
		}
		if g.chance(care(0.65) * mhRamp) {
			g.add("IFCCHBAM_COD", g.between(since, ach), clinical.KindObservation, float32(math.Round(g.norm(40, 6))))
		}
	}

	// Childhood vaccinations on the UK schedule, with realistic gaps.
	dob := g.p.Birth
	dose := func(cl string, at domain.Date, p float64) {
		if at <= ach.AddDays(20) && g.chance(p) {
			g.add(cl, at.AddDays(g.r.IntN(21)), clinical.KindImmunisation)
		}
	}
	if age <= 12 {
		for _, w := range []int{8, 12, 16} {
			dose("6IN1VAC_COD", dob.AddDays(7*w), 0.93)
		}
		dose("ROTAVAC1_COD", dob.AddDays(56), 0.9)
		dose("ROTAVAC1_COD", dob.AddDays(84), 0.88)
		dose("MENBVAC1_COD", dob.AddDays(56), 0.92)
		dose("MENBVAC1_COD", dob.AddDays(112), 0.9)
		dose("PCV_COD", dob.AddDays(84), 0.92)
		dose("MENBVAC1_COD", dob.AddYears(1), 0.88)
		dose("PCV_COD", dob.AddYears(1), 0.89)
		dose("HIBMENC_COD", dob.AddYears(1), 0.89)
		dose("MMRVAC1_COD", dob.AddYears(1).AddDays(10), 0.9)
		dose("MMRVAC1_COD", dob.AddMonths(40), 0.86)
		dose("4IN1VAC_COD", dob.AddMonths(40), 0.85)
	}
	if age >= 70 && g.chance(0.58) {
		lo := dob.AddYears(70)
		hi := min(dob.AddYears(80).AddDays(-1), ach)
		g.add("SHVACGP_COD", g.between(lo, hi), clinical.KindImmunisation)
	}

	// Flu: the eligible are vaccinated in most seasons, September to March.
	eligible := age >= 65 || hyp && age >= 60 || dm || chd || ast || copd || ld || (age >= 2 && age <= 3)
	// pregnancies coded over the last year (about 110 births a year per
	// 10,000 patients), so that any month of the season has some
	pregnant := female && age >= 18 && age <= 44 && g.chance(0.06)
	if pregnant {
		g.add("PREG_COD", g.between(ach.AddMonths(-12), ach), clinical.KindCondition)
	}
	if eligible || pregnant || g.chance(0.05) {
		p := 0.5
		if age >= 65 {
			p = 0.78
		}
		// the latest season is the one begun on or before the date
		y, m, _ := ach.Civil()
		if m < 9 {
			y--
		}
		for s := 0; s < 4; s++ {
			startSeason := domain.DateOf(y-s, 9, 1)
			if !g.chance(p) {
				continue
			}
			// Most doses in the first weeks (about 70% by the end of
			// October), a few up to the season's end on 31 March; a season
			// still running has only its doses given so far.
			d := startSeason.AddDays(14 + int(g.r.ExpFloat64()*40))
			d = min(d, startSeason.AddMonths(7).AddDays(-1))
			// (and none before 6 months of age, when the vaccine starts)
			if d <= ach && d >= g.p.Birth.AddMonths(6) {
				g.add("FLU_COD", d, clinical.KindImmunisation)
			}
		}
	}
	if copd && g.chance(0.8) {
		g.add("CHRONHD_COD", g.onset(40), clinical.KindCondition)
	}
}

// pcas adds the personalised care adjustments and invitations of one area.
func (g *gen) pcas(unsuitable, declined, invite string) {
	ach := g.ach
	if unsuitable != "" && g.chance(0.04) {
		g.add(unsuitable, g.between(ach.AddMonths(-11), ach), clinical.KindObservation)
	}
	if declined != "" && g.chance(0.04) {
		g.add(declined, g.between(ach.AddMonths(-11), ach), clinical.KindObservation)
	}
	if invite != "" && g.chance(0.18) {
		first := g.between(ach.AddMonths(-11), ach.AddMonths(-1))
		g.add(invite, first, clinical.KindProcedure)
		if g.chance(0.75) {
			g.add(invite, first.AddDays(7+g.r.IntN(60)), clinical.KindProcedure)
		}
	}
}

// ldHealthChecks records annual learning disability health checks from age
// 14, about three in four people a year (national uptake is around 75-80%),
// one at most in each April-to-March year. They draw on their own random
// stream so that a cluster file without health check codes (the shipped
// sample) leaves every other event exactly as it was.
func (g *gen) ldHealthChecks(onset domain.Date) {
	codes := g.book.codes["HLTHCHK_COD"]
	if len(codes) == 0 {
		return
	}
	r := rand.New(rand.NewPCG(uint64(g.seed)^0x4c4448, uint64(g.idx)))
	from := max(onset, g.p.Birth.AddYears(14), g.ach.AddYears(-3))
	y, _, _ := g.ach.AddYears(-3).Civil()
	for ; ; y++ {
		lo, hi := domain.DateOf(y, 4, 1), domain.DateOf(y+1, 3, 31)
		if lo > g.ach {
			return
		}
		// The date falls anywhere in the year; one still to come by the
		// achievement date is not in the record yet.
		lo = max(lo, from)
		if hi < lo || r.Float64() >= 0.75 {
			continue
		}
		d := lo + domain.Date(r.IntN(int(hi-lo)+1))
		if d <= g.ach {
			g.addCode(codes[r.IntN(len(codes))], d, clinical.KindProcedure)
		}
	}
}

// Each generates the practice's patients in order, calling yield for each;
// it stops at the first error yield returns.
func Each(opt Options, yield func(clinical.Patient) error) error {
	opt.defaults()
	for i := 0; i < opt.Patients; i++ {
		if err := yield(Patient(opt, i)); err != nil {
			return err
		}
	}
	return nil
}

// Generate returns the practice's patients.
func Generate(opt Options) []clinical.Patient {
	out := make([]clinical.Patient, 0, opt.Patients)
	_ = Each(opt, func(p clinical.Patient) error {
		out = append(out, p)
		return nil
	})
	return out
}

// Batch builds the compact form straight from the generator, without
// writing NDJSON (used by benchmarks at national scale).
func Batch(opt Options) (*clinical.Batch, error) {
	opt.defaults()
	b := clinical.NewBuilder(opt.Practice)
	if err := Each(opt, b.Add); err != nil {
		return nil, err
	}
	return b.Build(), nil
}
