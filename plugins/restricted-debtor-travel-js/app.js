// T5 `restricted-debtor-travel` in JavaScript: debtors who fly or ride fast trains while restricted.
//
// The same rule as the Rust model (plugins/restricted-debtor-travel), clue for clue. A restricted
// debtor may not fly, take any seat on a G train, or sit in first class on a D train, from
// `imposed_on` until `lifted_on` (or for good, while it is not lifted). A trip counts against a
// debtor when it is recorded under the debtor's id (rule `direct`) or, with no person id, only
// under a passport number issued to the debtor (rule `passport`). One clue per debtor; the score
// grows with the number of trips: 0.6 for one, up to 1.0 for five. Build it with
// `sieve build plugins/restricted-debtor-travel-js`; try it on CSV files with
// `node sdk/js/local.mjs plugins/restricted-debtor-travel-js/app.js DATA_DIR`.
import { BadParam, Clue, Model, ModelInfo, TableSpec, ops, exportModel } from "sieve-sdk";

class RestrictedDebtorTravel extends Model {
  static describe() {
    return new ModelInfo("restricted-debtor-travel-js", "0.1.0")
      .summary(
        "Flags debtors under a consumption restriction who flew, took G trains or first class on D trains " +
          "while restricted, under their own id or on one of their passports. (JavaScript.)",
      )
      .task("restricted-debtor-travel", "person")
      .input(new TableSpec("restrictions").text(["debtor_id"]).date(["imposed_on", "lifted_on"]))
      .input(new TableSpec("travel").text(["person_id", "passport_no", "mode", "seat_class"]).timestamp(["departed_at"]))
      .input(new TableSpec("passports").text(["person_id", "passport_no"]))
      .paramInt("min-trips", 1, "Restricted trips a debtor must have taken to be flagged.");
  }

  static run(ctx) {
    const minTrips = ctx.param("min-trips");
    if (minTrips < 0) throw new BadParam("min-trips must not be negative");
    const r = ctx.table("restrictions").load(["debtor_id", "imposed_on", "lifted_on"]);
    const t = ctx.table("travel").load(["person_id", "passport_no", "mode", "seat_class", "departed_at"]);
    const p = ctx.table("passports").load(["person_id", "passport_no"]);

    const [imposed, lifted] = [r.date("imposed_on"), r.date("lifted_on")];
    // Debtors and passports are grouped by the host; people share one dictionary across the
    // tables, so every lookup below compares codes.
    const restricted = ops.Index.build(r.text("debtor_id"));
    const holder = p.text("person_id");
    const passportRows = ops.Index.build(p.text("passport_no"));
    const [person, passport, departed] = [t.text("person_id"), t.text("passport_no"), t.timestamp("departed_at")];
    // Flags per row, computed by the host: the filter reads three bytes a row.
    const mode = t.text("mode");
    const barredAnySeat = mode.matches(["flight", "rail_g"]);
    const dTrain = mode.matches(["rail_d"]);
    const firstClass = t.text("seat_class").matches(["first"]);
    const debtorOfTraveller = restricted.lookup(person);
    const debtorOfHolder = restricted.lookup(holder);

    // Restricted trips per debtor (by group of the index): [travel row, restriction row, passport row or -1].
    const found = new Map();
    const record = (g, row, via) => {
      const day = departed.day(row);
      if (day === null) return;
      const rows = restricted.group(g);
      for (let k = 0; k < rows.length; k++) {
        const rr = rows[k];
        const start = imposed.get(rr);
        if (start !== null && ops.within(day, start, lifted.get(rr))) {
          let trips = found.get(g);
          if (trips === undefined) found.set(g, (trips = []));
          trips.push([row, rr, via]);
          return;
        }
      }
    };
    const passportOf = passportRows.lookup(passport);
    for (let row = 0; row < t.length; row++) {
      if ((barredAnySeat[row] | (dTrain[row] & firstClass[row])) === 0) continue;
      // A trip counts under the person id when there is one; only a trip with no person id counts
      // through its passport number, for each restricted debtor it was issued to (once each).
      if (person.isValid(row)) {
        const g = debtorOfTraveller(row);
        if (g >= 0) record(g, row, -1);
        continue;
      }
      const p = passportOf(row);
      if (p < 0) continue;
      const holders = passportRows.group(p);
      const seen = [];
      for (let k = 0; k < holders.length; k++) {
        const g = debtorOfHolder(holders[k]);
        if (g >= 0 && !seen.includes(g)) {
          seen.push(g);
          record(g, row, holders[k]);
        }
      }
    }

    const debtors = ops.sortByText([...found].map(([g, trips]) => [restricted.key(g), trips]), ([who]) => who);
    for (const [who, trips] of debtors) {
      if (trips.length < minTrips) continue;
      const viaPassport = trips.filter(([, , via]) => via >= 0).length;
      const rule = viaPassport === trips.length ? "passport" : "direct";
      const score = Math.min(0.5 + 0.1 * Math.min(trips.length, 5), 1.0);
      const reason =
        viaPassport > 0
          ? `Debtor ${who} made ${trips.length} restricted trips while restricted, ${viaPassport} of them on a passport issued to the debtor.`
          : `Debtor ${who} made ${trips.length} restricted trips (flights, G trains, D-train first class) while restricted.`;
      ctx.emit(
        new Clue(who, score, rule, reason)
          .evidence("restrictions", [trips[0][1]])
          .evidence("travel", trips.slice(0, 50).map(([row]) => row))
          .evidence("passports", trips.filter(([, , via]) => via >= 0).slice(0, 5).map(([, , via]) => via)),
      );
    }
  }
}

export const model = exportModel(RestrictedDebtorTravel);
