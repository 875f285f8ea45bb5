package rulesets_test

import (
	"testing"

	"gpcollections/domain/clinical"
)

// QOF 2025/26 spec tables, achievement date 2026-03-31 unless stated.
// PPED-12m is 2025-03-31 (outside every "preceding 12 months" window),
// PPED-9m 2025-06-30, PPED-3m 2025-12-31, PPED-5y 2021-03-31.

const pped = "2026-03-31"

func dm(events ...ev) []ev { return append([]ev{e("DM_COD", "2010-01-01")}, events...) }

func TestQOFRegisters(t *testing.T) {
	runSpecs(t, "QOF2526", []spec{
		{name: "DM017 resolution, age 17 on the PPED, population edges", ach: pped, patients: []pt{
			{birth: "1960-01-01", events: dm()},
			{birth: "1960-01-01", events: dm(e("DMRES_COD", "2015-01-01"))},                              // resolved after: off
			{birth: "1960-01-01", events: []ev{e("DM_COD", "2015-01-01"), e("DMRES_COD", "2015-01-01")}}, // resolved the same day: off
			{birth: "1960-01-01", events: []ev{e("DMRES_COD", "2012-01-01"), e("DM_COD", "2015-01-01")}}, // re-diagnosed: on
			{birth: "2009-03-31", events: dm()},                                                          // turns 17 on the PPED: on
			{birth: "2009-04-01", events: dm()},                                                          // 16 on the PPED: off
			{birth: "1960-01-01", reg: pped, events: dm()},                                               // registered on the PPED: on
			{birth: "1960-01-01", reg: "2026-04-01", events: dm()},                                       // registers after: out
			{birth: "1960-01-01", death: "2026-03-30", regEnd: "2026-03-30", events: dm()},               // died before: out
			{birth: "1960-01-01", death: pped, regEnd: pped, events: dm()},                               // died on the PPED: in
			{birth: "1960-01-01", regEnd: "2025-12-01", events: dm()},                                    // left: out
			{birth: "1960-01-01", events: []ev{e("DM_COD", "2026-04-02")}},                               // coded after the PPED only
		}, want: map[string]int64{"DM017/REGISTER": 5}},
		{name: "HYP001 CHD001 STIA001 COPD015 MH001", ach: pped, patients: []pt{
			{birth: "1950-01-01", events: []ev{e("HYP_COD", "2010-01-01")}},
			{birth: "1950-01-01", events: []ev{e("HYP_COD", "2010-01-01"), e("HYPRES_COD", "2018-01-01")}},
			{birth: "1950-01-01", events: []ev{e("HYP_COD", "2010-01-01"), e("HYPRES_COD", "2018-01-01"), e("HYP_COD", "2020-01-01")}},
			{birth: "1950-01-01", events: []ev{e("HYP_COD", "2015-01-01"), e("HYPRES_COD", "2015-01-01")}}, // resolved the same day: off
			{birth: "1950-01-01", events: []ev{e("CHD_COD", "2010-01-01"), e("TIA_COD", "2011-01-01")}},
			{birth: "1950-01-01", events: []ev{e("STRK_COD", "2026-03-31")}}, // diagnosed on the PPED
			{birth: "1950-01-01", events: []ev{e("COPD_COD", "2019-01-01")}},
			{birth: "1990-01-01", events: []ev{e("MH_COD", "2012-01-01")}},
		}, want: map[string]int64{"HYP001/REGISTER": 2, "CHD001/REGISTER": 1, "STIA001/REGISTER": 2, "COPD015/REGISTER": 1, "MH001/REGISTER": 1}},
		{name: "AST005 age 6 and drug in the preceding 12 months", ach: pped, patients: []pt{
			{birth: "2020-03-31", events: []ev{e("AST_COD", "2024-01-01"), e("ASTTRT_COD", "2025-12-01")}}, // 6 on the PPED
			{birth: "2020-04-01", events: []ev{e("AST_COD", "2024-01-01"), e("ASTTRT_COD", "2025-12-01")}}, // 5
			{birth: "1980-01-01", events: []ev{e("AST_COD", "2010-01-01"), e("ASTTRT_COD", "2025-03-31")}}, // drug exactly 12 months before
			{birth: "1980-01-01", events: []ev{e("AST_COD", "2010-01-01"), e("ASTRES_COD", "2020-01-01"), e("ASTTRT_COD", "2025-12-01")}},
			{birth: "1980-01-01", events: []ev{e("AST_COD", "2010-01-01"), e("ASTRES_COD", "2020-01-01"), e("AST_COD", "2022-01-01"), e("ASTTRT_COD", "2025-04-01")}},
			{birth: "1980-01-01", events: []ev{e("AST_COD", "2015-01-01"), e("ASTRES_COD", "2015-01-01"), e("ASTTRT_COD", "2025-12-01")}}, // resolved the same day: off
		}, want: map[string]int64{"AST005/REGISTER": 2}},
	})
}

func TestQOFDiabetes(t *testing.T) {
	hb := func(date string, v float32) ev { return e("IFCCHBAM_COD", date, v) }
	runSpecs(t, "QOF2526", []spec{
		{name: "DM020 every rule", ach: pped, patients: []pt{
			{birth: "1950-01-01", events: dm(e("MODFRAIL_COD", "2024-01-01"), hb("2025-10-01", 50))},                                   // frail: MDSEVFRAIL though achieving
			{birth: "1950-01-01", events: dm(e("MODFRAIL_COD", "2024-01-01"), e("MILDFRAIL_COD", "2025-01-01"), hb("2025-10-01", 50))}, // latest frailty mild: NUM
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 52))},                                                                    // NUM
			{birth: "1960-01-01", events: dm(hb("2025-03-31", 52))},                                                                    // exactly 12 months before: DENOM only
			{birth: "1960-01-01", events: dm(hb("2025-04-01", 52))},                                                                    // first day inside: NUM
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 70), hb("2025-10-01", 50))},                                              // same day: the later record counts: NUM
			{birth: "1960-01-01", events: dm(e("SERFRUC_COD", "2025-10-01", 300))},                                                     // IFCCHBA
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 70), e("DMMAX_COD", "2025-11-01"))},
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 70), e("DMPCAPU_COD", "2025-11-01"))},
			{birth: "1960-01-01", events: dm(hb("2025-05-01", 70), e("DMINVITE_COD", "2025-06-01"), e("DMINVITE_COD", "2025-06-08"))}, // 7 days apart: DMIFINVITE
			{birth: "1960-01-01", events: dm(hb("2025-05-01", 70), e("DMINVITE_COD", "2025-06-01"), e("DMINVITE_COD", "2025-06-05"))}, // 4 days apart: DENOM
			{birth: "1960-01-01", events: []ev{e("DM_COD", "2025-09-01")}},                                                            // DIAG1_DT9M
			{birth: "1960-01-01", reg: "2025-08-01", events: dm()},                                                                    // REG1_DAT9
			{birth: "1960-01-01", reg: pped, events: dm()},                                                                            // registered on the PPED: REG1_DAT9
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 58))},                                                                   // 58: NUM
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 59))},                                                                   // 59: DENOM
			{birth: "1960-01-01", events: dm(hb("2025-10-01", 50), e("DMPCAPU_COD", "2025-11-01"))},                                   // achieving before exceptions: NUM
			{birth: "1960-01-01", events: []ev{e("DM_COD", "2025-06-30")}},                                                            // diagnosed exactly 9 months before: DENOM
		}, want: map[string]int64{"DM020/REGISTER": 18, "DM020/DENOMINATOR": 10, "DM020/NUMERATOR": 6,
			"DM020/MDSEVFRAIL": 1, "DM020/IFCCHBA": 1, "DM020/DMMAX": 1, "DM020/DMPCAPU": 1, "DM020/DMIFINVITE": 1,
			"DM020/DIAG1_DT9M": 1, "DM020/REG1_DAT9": 2}},
		{name: "DM021 frail patients only", ach: pped, patients: []pt{
			{birth: "1940-01-01", events: dm(e("SEVFRAIL_COD", "2024-01-01"), hb("2025-10-01", 74))},
			{birth: "1940-01-01", events: dm(e("MODFRAIL_COD", "2024-01-01"), hb("2025-10-01", 76))},
			{birth: "1940-01-01", events: dm(hb("2025-10-01", 60))}, // not frail: not in DM021
			{birth: "1940-01-01", events: dm(e("SEVFRAIL_COD", "2024-01-01"), e("SERFRUC_COD", "2025-10-01", 300))},
			{birth: "1940-01-01", events: dm(e("MODFRAIL_COD", "2024-01-01"), hb("2025-10-01", 80), e("DMMAX_COD", "2025-11-01"))},
			{birth: "1940-01-01", events: dm(e("MODFRAIL_COD", "2024-01-01"), e("DMPCAPU_COD", "2025-11-01"))},
			{birth: "1940-01-01", events: dm(e("MODFRAIL_COD", "2024-01-01"), e("DMINVITE_COD", "2025-06-01"), e("DMINVITE_COD", "2025-07-01"))},
			{birth: "1940-01-01", events: []ev{e("DM_COD", "2025-12-01"), e("MODFRAIL_COD", "2024-01-01")}},
			{birth: "1940-01-01", reg: "2025-12-01", events: dm(e("MODFRAIL_COD", "2024-01-01"))},
		}, want: map[string]int64{"DM021/REGISTER": 9, "DM021/DENOMINATOR": 2, "DM021/NUMERATOR": 1,
			"DM021/IFCCHBA": 1, "DM021/DMMAX": 1, "DM021/DMPCAPU": 1, "DM021/DMIFINVITE": 1, "DM021/DIAG1_DT9M": 1, "DM021/REG1_DAT9": 1}},
		{name: "DM036 age 79, lowest same-day BP, every rule", ach: pped, patients: []pt{
			{birth: "1946-03-31", events: dm(e("BP_COD", "2025-10-01", 120, 70))}, // 80 on the PPED: not in DM036
			{birth: "1946-04-01", events: dm(e("BP_COD", "2025-10-01", 130, 80))}, // 79: NUM
			{birth: "1950-01-01", events: dm(e("SEVFRAIL_COD", "2024-01-01"), e("BP_COD", "2025-10-01", 130, 80))},
			{birth: "1950-01-01", events: dm(e("BP_COD", "2025-10-01", 140, 90))}, // boundary: NUM
			{birth: "1950-01-01", events: dm(e("BP_COD", "2025-10-01", 141, 80))}, // DENOM
			{birth: "1950-01-01", events: dm(e("BP_COD", "2025-10-01", 150, 95), e("BP_COD", "2025-10-01", 135, 85))},
			{birth: "1950-01-01", events: dm(e("BP_COD", "2025-10-01", 150, 80), e("BP_COD", "2025-10-01", 135, 95))}, // lowest of each: 135/80
			{birth: "1950-01-01", events: dm(e("BP_COD", "2025-10-01", 150, 95), e("HTMAX_COD", "2025-11-01"))},
			{birth: "1950-01-01", events: dm(e("BPDEC_COD", "2025-11-01"))},
			{birth: "1950-01-01", events: dm(e("DMPCAPU_COD", "2025-11-01"))},
			{birth: "1950-01-01", events: dm(e("DMINVITE_COD", "2025-06-01"), e("DMINVITE_COD", "2025-07-01"))},
			{birth: "1950-01-01", events: []ev{e("DM_COD", "2026-01-01")}},
			{birth: "1950-01-01", reg: "2026-01-01", events: dm()},
		}, want: map[string]int64{"DM036/REGISTER": 13, "DM036/DENOMINATOR": 5, "DM036/NUMERATOR": 4,
			"DM036/MDSEVFRAIL": 1, "DM036/HTMAX": 1, "DM036/BPDEC": 1, "DM036/DMPCAPU": 1, "DM036/DMINVITE": 1,
			"DM036/DIAG1_DT9M": 1, "DM036/REG1_DAT9": 1}},
	})
}

func TestQOFBloodPressureControl(t *testing.T) {
	hyp := func(events ...ev) []ev { return append([]ev{e("HYP_COD", "2010-01-01")}, events...) }
	chd := func(events ...ev) []ev { return append([]ev{e("CHD_COD", "2010-01-01")}, events...) }
	bp := func(date string, s, d float32) ev { return e("BP_COD", date, s, d) }
	runSpecs(t, "QOF2526", []spec{
		{name: "HYP008 and HYP009 every rule", ach: pped, patients: []pt{
			{birth: "1965-01-01", events: hyp(bp("2025-10-01", 130, 80))},
			{birth: "1946-04-01", events: hyp(bp("2025-10-01", 145, 85))}, // 79: HYP008 DENOM
			{birth: "1946-03-31", events: hyp(bp("2025-10-01", 145, 85))}, // turns 80 on the PPED: HYP009 NUM
			{birth: "1940-01-01", events: hyp(bp("2025-10-01", 155, 85))}, // HYP009 DENOM
			{birth: "1965-01-01", events: hyp(bp("2025-10-01", 150, 95), e("HTMAX_COD", "2025-11-01"))},
			{birth: "1965-01-01", events: hyp(e("BPDEC_COD", "2025-11-01"))},
			{birth: "1965-01-01", events: hyp(e("HYPPCAPU_COD", "2025-11-01"))},
			{birth: "1965-01-01", events: hyp(e("HYPPCADEC_COD", "2025-11-01"))},
			{birth: "1965-01-01", events: hyp(e("HYPINVITE_COD", "2025-05-01"), e("HYPINVITE_COD", "2025-06-01"))},
			{birth: "1965-01-01", events: []ev{e("HYP_COD", "2025-12-01")}},
			{birth: "1965-01-01", reg: "2025-10-01", events: hyp()},
			{birth: "1965-01-01", events: hyp(e("HYPRES_COD", "2020-01-01"))}, // resolved: off the register
			{birth: "1936-01-01", events: hyp(e("HYPPCADEC_COD", "2025-11-01"))},
			// 80 or over: HYP009's own exceptions
			{birth: "1940-01-01", events: hyp(bp("2025-10-01", 160, 95), e("HTMAX_COD", "2025-11-01"))},
			{birth: "1940-01-01", events: hyp(e("BPDEC_COD", "2025-11-01"))},
			{birth: "1940-01-01", events: hyp(e("HYPPCAPU_COD", "2025-11-01"))},
			{birth: "1940-01-01", events: hyp(e("HYPINVITE_COD", "2025-05-01"), e("HYPINVITE_COD", "2025-06-01"))},
			{birth: "1940-01-01", events: []ev{e("HYP_COD", "2025-12-01")}},
			{birth: "1940-01-01", reg: "2025-10-01", events: hyp()},
		}, want: map[string]int64{"HYP001/REGISTER": 18,
			"HYP008/REGISTER": 18, "HYP008/DENOMINATOR": 2, "HYP008/NUMERATOR": 1, "HYP008/HTMAX": 1, "HYP008/BPDEC": 1,
			"HYP008/HYPPCAPU": 1, "HYP008/HYPPCADEC": 1, "HYP008/HYPINVITE": 1, "HYP008/HYP_DAT9": 1, "HYP008/REG_DAT9": 1,
			"HYP009/REGISTER": 18, "HYP009/DENOMINATOR": 2, "HYP009/NUMERATOR": 1, "HYP009/HTMAX": 1, "HYP009/BPDEC": 1,
			"HYP009/HYPPCAPU": 1, "HYP009/HYPPCADEC": 1, "HYP009/HYPINVITE": 1, "HYP009/HYP_DAT9": 1, "HYP009/REG_DAT9": 1}},
		{name: "CHD015 and CHD016", ach: pped, patients: []pt{
			{birth: "1956-01-01", events: chd(bp("2025-10-01", 120, 70))},
			{birth: "1944-01-01", events: chd(bp("2025-10-01", 149, 89))},
			{birth: "1956-01-01", events: chd(bp("2025-10-01", 160, 70), e("HTMAX_COD", "2025-11-01"))},
			{birth: "1941-01-01", events: chd(e("BPDEC_COD", "2025-11-01"))},
			{birth: "1976-01-01", events: []ev{e("CHD_COD", "2025-08-01")}},
			{birth: "1945-01-01", reg: "2025-12-01", events: chd()},
			{birth: "1956-01-01", events: chd(bp("2025-10-01", 150, 80))},
			{birth: "1956-01-01", events: chd(e("BPDEC_COD", "2025-11-01"))},
			{birth: "1956-01-01", reg: "2025-12-01", events: chd()},
			{birth: "1940-01-01", events: chd(bp("2025-10-01", 160, 95), e("HTMAX_COD", "2025-11-01"))},
			{birth: "1940-01-01", events: []ev{e("CHD_COD", "2025-08-01")}},
			{birth: "1940-01-01", events: chd(bp("2025-10-01", 160, 70))}, // 80 or over, above 150: DENOM
		}, want: map[string]int64{"CHD015/REGISTER": 12, "CHD015/DENOMINATOR": 2, "CHD015/NUMERATOR": 1, "CHD015/HTMAX": 1, "CHD015/CHD_DAT9": 1,
			"CHD015/BPDEC": 1, "CHD015/REG_DAT9": 1,
			"CHD016/REGISTER": 12, "CHD016/DENOMINATOR": 2, "CHD016/NUMERATOR": 1, "CHD016/BPDEC": 1, "CHD016/REG_DAT9": 1,
			"CHD016/HTMAX": 1, "CHD016/CHD_DAT9": 1}},
		{name: "STIA014 and STIA015", ach: pped, patients: []pt{
			{birth: "1956-01-01", events: []ev{e("TIA_COD", "2015-01-01"), bp("2025-10-01", 120, 70)}},
			{birth: "1944-01-01", events: []ev{e("STRK_COD", "2015-01-01"), bp("2025-10-01", 151, 80)}},
			{birth: "1966-01-01", events: []ev{e("STRK_COD", "2015-01-01"), e("BPDEC_COD", "2025-11-01")}},
			{birth: "1936-01-01", events: []ev{e("STRK_COD", "2015-01-01"), e("HTMAX_COD", "2025-11-01")}},
			{birth: "1961-01-01", events: []ev{e("STRK_COD", "2026-01-01")}},
			{birth: "1938-01-01", reg: "2026-02-01", events: []ev{e("TIA_COD", "2015-01-01")}},
			{birth: "1966-01-01", events: []ev{e("STRK_COD", "2015-01-01"), bp("2025-10-01", 150, 95), e("HTMAX_COD", "2025-11-01")}},
			{birth: "1966-01-01", reg: "2026-02-01", events: []ev{e("TIA_COD", "2015-01-01")}},
			{birth: "1940-01-01", events: []ev{e("STRK_COD", "2015-01-01"), bp("2025-10-01", 150, 90)}}, // 150/90 at 80+: NUM
			{birth: "1940-01-01", events: []ev{e("STRK_COD", "2015-01-01"), e("BPDEC_COD", "2025-11-01")}},
			{birth: "1940-01-01", events: []ev{e("TIA_COD", "2026-01-01")}},
		}, want: map[string]int64{"STIA014/REGISTER": 11, "STIA014/DENOMINATOR": 1, "STIA014/NUMERATOR": 1, "STIA014/BPDEC": 1, "STIA014/STIA_DAT9": 1,
			"STIA014/HTMAX": 1, "STIA014/REG_DAT9": 1,
			"STIA015/REGISTER": 11, "STIA015/DENOMINATOR": 2, "STIA015/NUMERATOR": 1, "STIA015/HTMAX": 1, "STIA015/REG_DAT9": 1,
			"STIA015/BPDEC": 1, "STIA015/STIA_DAT9": 1}},
	})
}

func TestQOFAsthma(t *testing.T) {
	ast := func(events ...ev) []ev {
		return append([]ev{e("AST_COD", "2010-01-01"), e("ASTTRT_COD", "2025-12-01")}, events...)
	}
	review := func(date string) []ev {
		return []ev{e("REV_COD", date), e("ASTCONTASS_COD", date, 20), e("ASTEXACB_COD", date, 1), e("WRITPASTP_COD", date)}
	}
	runSpecs(t, "QOF2526", []spec{
		{name: "AST007 every rule", ach: pped, patients: []pt{
			{birth: "2020-03-31", events: ast()},
			{birth: "1980-01-01", events: ast(review("2025-11-01")...)},     // NUM
			{birth: "1980-01-01", events: ast(review("2025-11-01")[:3]...)}, // no written plan: DENOM
			{birth: "1980-01-01", events: ast(e("ASTPCAPU_COD", "2025-11-01"))},
			{birth: "1980-01-01", events: ast(e("ASTPCADEC_COD", "2025-11-01"))},
			{birth: "1980-01-01", events: ast(e("ASTINVITE_COD", "2025-06-01"), e("ASTINVITE_COD", "2025-06-08"))},
			{birth: "1980-01-01", events: []ev{e("AST_COD", "2026-02-01"), e("ASTTRT_COD", "2026-02-01")}},
			{birth: "1980-01-01", reg: "2026-01-15", events: ast()},
			{birth: "1980-01-01", events: ast(review("2025-03-31")...)},     // review exactly 12 months before: DENOM
			{birth: "1980-01-01", events: []ev{e("AST_COD", "2010-01-01")}}, // no drug: not on the register
		}, want: map[string]int64{"AST005/REGISTER": 9, "AST007/REGISTER": 9, "AST007/DENOMINATOR": 4, "AST007/NUMERATOR": 1,
			"AST007/ASTPCAPU": 1, "AST007/ASTPCADEC": 1, "AST007/ASTINVITE": 1, "AST007/AST_DAT3": 1, "AST007/REG_DAT3": 1}},
	})
}

func TestQOFPublicHealth(t *testing.T) {
	runSpecs(t, "QOF2526", []spec{
		{name: "BP002 45 or over, 5-year window", ach: pped, patients: []pt{
			{birth: "1981-03-31", events: []ev{e("BP_COD", "2021-04-01", 120, 80)}}, // 45 on the PPED, BP just inside 5 years: NUM
			{birth: "1981-04-01", events: []ev{e("BP_COD", "2025-04-01", 120, 80)}}, // 44: not in BP002
			{birth: "1976-01-01", events: []ev{e("BP_COD", "2021-03-31", 120, 80)}}, // exactly 5 years before: DENOM
			{birth: "1966-01-01", events: []ev{e("BPDEC_COD", "2023-01-01")}},
			{birth: "1966-01-01"},
		}, want: map[string]int64{"BP002/REGISTER": 5, "BP002/DENOMINATOR": 3, "BP002/NUMERATOR": 1, "BP002/BPDEC": 1}},
		{name: "SMOK002 registers, status in 12 months", ach: pped, patients: []pt{
			{birth: "1960-01-01", events: []ev{e("HYP_COD", "2010-01-01"), e("LSMOK_COD", "2025-10-01")}},
			{birth: "1960-01-01", events: dm()},
			{birth: "1960-01-01", events: []ev{e("LSMOK_COD", "2025-10-01")}}, // on no register
			{birth: "1960-01-01", events: []ev{e("CHD_COD", "2010-01-01"), e("SMOKPCAPU_COD", "2025-10-01")}},
			{birth: "1960-01-01", events: []ev{e("AST_COD", "2010-01-01"), e("ASTTRT_COD", "2025-12-01"), e("SMOKPCADEC_COD", "2025-10-01")}},
			{birth: "1960-01-01", reg: "2026-02-01", events: []ev{e("COPD_COD", "2010-01-01")}},
			{birth: "1990-01-01", events: []ev{e("MH_COD", "2015-01-01"), code(266919005, "2025-10-01")}}, // never smoked: NUM
			{birth: "1950-01-01", events: []ev{e("STRK_COD", "2015-01-01"), e("EXSMOK_COD", "2025-03-31")}},
		}, want: map[string]int64{"SMOK002/REGISTER": 8, "SMOK002/DENOMINATOR": 4, "SMOK002/NUMERATOR": 2,
			"SMOK002/SMOKPCAPU": 1, "SMOK002/SMOKPCADEC": 1, "SMOK002/REG_DAT3": 1}},
		{name: "SMOK004 current smokers 15 or over", ach: pped, patients: []pt{
			{birth: "2011-03-31", events: []ev{e("LSMOK_COD", "2025-01-01"), e("REFERSSSA_COD", "2025-02-01")}}, // 15 on the PPED: NUM
			{birth: "2011-04-01", events: []ev{e("LSMOK_COD", "2025-01-01")}},                                   // 14
			{birth: "1970-01-01", events: []ev{e("LSMOK_COD", "2015-01-01"), e("EXSMOK_COD", "2020-01-01")}},    // ex-smoker
			{birth: "1970-01-01", events: []ev{e("EXSMOK_COD", "2015-01-01"), e("LSMOK_COD", "2020-01-01")}},    // smokes again: DENOM
			{birth: "1970-01-01", events: []ev{e("LSMOK_COD", "2020-01-01"), e("PHARM_COD", "2024-04-01")}},     // NUM
			{birth: "1970-01-01", events: []ev{e("LSMOK_COD", "2020-01-01"), e("PHARM_COD", "2024-03-31")}},     // exactly 24 months: DENOM
			{birth: "1970-01-01", events: []ev{e("LSMOK_COD", "2020-01-01"), e("SMOKPCAPU_COD", "2025-10-01")}},
			{birth: "1970-01-01", events: []ev{e("LSMOK_COD", "2020-01-01"), e("SMOKPCADEC_COD", "2025-10-01")}},
			{birth: "1970-01-01", reg: "2026-03-01", events: []ev{e("LSMOK_COD", "2020-01-01")}},
		}, want: map[string]int64{"SMOK004/REGISTER": 9, "SMOK004/DENOMINATOR": 4, "SMOK004/NUMERATOR": 2,
			"SMOK004/SMOKPCAPU": 1, "SMOK004/SMOKPCADEC": 1, "SMOK004/REG_DAT3": 1}},
	})
}

func TestQOFVaccination(t *testing.T) {
	six := func(dates ...string) []ev {
		var out []ev
		for _, d := range dates {
			out = append(out, e("6IN1VAC_COD", d))
		}
		return out
	}
	runSpecs(t, "QOF2526", []spec{
		{name: "VI001 reached 8 months in the year, 3 doses before", ach: pped, patients: []pt{
			{birth: "2025-07-31", events: six("2025-09-25", "2025-10-23", "2025-11-20")}, // reaches 8 months on the PPED: NUM
			{birth: "2024-07-31", events: six("2024-09-25", "2024-10-23", "2024-11-20")}, // reached 8 months 12 months before: out
			{birth: "2024-08-01", events: six("2024-09-26", "2024-10-24")},               // DENOM
			{birth: "2025-06-15", events: six("2025-08-10", "2025-09-07", "2026-02-15")}, // third dose on the day she turns 8 months: DENOM
			{birth: "2025-09-01", events: six("2025-10-27", "2025-11-24", "2025-12-22")}, // 8 months after the PPED: out
		}, want: map[string]int64{"VI001/REGISTER": 5, "VI001/DENOMINATOR": 3, "VI001/NUMERATOR": 1}},
		{name: "VI002 MMR between 12 and 18 months", ach: pped, patients: []pt{
			{birth: "2024-09-30", events: []ev{e("MMRVAC1_COD", "2025-10-01")}},
			{birth: "2024-09-30", events: []ev{e("MMRVAC1_COD", "2025-09-29")}}, // before 12 months
			{birth: "2024-04-15", events: []ev{e("MMRVAC1_COD", "2025-10-15")}}, // on the 18-month birthday
		}, want: map[string]int64{"VI002/REGISTER": 3, "VI002/DENOMINATOR": 3, "VI002/NUMERATOR": 1}},
		{name: "VI003 booster and two MMR by 5", ach: pped, patients: []pt{
			{birth: "2021-01-10", events: []ev{e("MMRVAC1_COD", "2022-01-20"), e("MMRVAC1_COD", "2024-05-01"), e("4IN1VAC_COD", "2024-05-01")}},
			{birth: "2021-01-10", events: []ev{e("MMRVAC1_COD", "2022-01-20"), e("4IN1VAC_COD", "2024-05-01")}},
		}, want: map[string]int64{"VI003/REGISTER": 2, "VI003/DENOMINATOR": 2, "VI003/NUMERATOR": 1}},
		{name: "VI004 shingles between 70 and 79", ach: pped, patients: []pt{
			{birth: "1946-01-01", events: []ev{e("SHVACGP_COD", "2021-06-01")}},
			{birth: "1946-02-01", events: []ev{e("SHVACGP_COD", "2015-03-01")}}, // at 69
			{birth: "1945-03-31", events: []ev{e("SHVACGP_COD", "2020-03-01")}}, // turned 80 twelve months before: out
		}, want: map[string]int64{"VI004/REGISTER": 3, "VI004/DENOMINATOR": 2, "VI004/NUMERATOR": 1}},
	})
}

func TestQOFMentalHealth(t *testing.T) {
	mh := func(events ...ev) []ev { return append([]ev{e("MH_COD", "2010-01-01")}, events...) }
	runSpecs(t, "QOF2526", []spec{
		{name: "MH003 MH006 MH012", ach: pped, patients: []pt{
			{birth: "1980-01-01", events: mh(e("BP_COD", "2025-10-01", 120, 80), e("BMI_COD", "2025-10-01", 27), e("IFCCHBAM_COD", "2025-10-01", 40))},
			{birth: "1980-01-01", events: mh()},
			{birth: "1980-01-01", events: mh(e("BPDEC_COD", "2025-10-01"))},
			{birth: "1980-01-01", events: []ev{e("MH_COD", "2026-02-01")}},
			{birth: "1980-01-01", reg: "2026-03-01", events: mh()},
		}, want: map[string]int64{"MH001/REGISTER": 5,
			"MH003/REGISTER": 5, "MH003/DENOMINATOR": 2, "MH003/NUMERATOR": 1, "MH003/BPDEC": 1, "MH003/MH_DAT3": 1, "MH003/REG_DAT3": 1,
			"MH006/REGISTER": 5, "MH006/DENOMINATOR": 3, "MH006/NUMERATOR": 1, "MH006/MH_DAT3": 1, "MH006/REG_DAT3": 1,
			"MH012/REGISTER": 5, "MH012/DENOMINATOR": 3, "MH012/NUMERATOR": 1, "MH012/MH_DAT3": 1, "MH012/REG_DAT3": 1}},
	})
}

var _ = clinical.SexMale
