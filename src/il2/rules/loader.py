"""Load the rule files (and a site's policy file) into frozen domain tables.

Everything is validated at start-up: a malformed file fails loudly with a `RuleTableError`
naming the file and the field, before any patient is screened or any dose is planned.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from il2.domain.admission import AdmissionPolicy
from il2.domain.bedside import BedsidePolicy, BedsideTable
from il2.domain.coding import CodeTable, Section
from il2.domain.ctcae import CtcaeTable
from il2.domain.eligibility import CriteriaTable
from il2.domain.errors import RuleTableError
from il2.domain.exports import ExportPolicy
from il2.domain.field_grading import FieldGrading
from il2.domain.findings import FieldSpec
from il2.domain.irecist import IrecistCriteria
from il2.domain.pathway import PathwayTable
from il2.domain.prognosis import PrognosticTable
from il2.domain.recist import Category, RecistCriteria
from il2.domain.regimen import (
    BsaFormula,
    CycleEndRule,
    DilutionBand,
    DosingWeightBasis,
    MgFactor,
    PlanPolicy,
    Product,
    Regimen,
    Route,
    RoutePreparation,
    VialPooling,
)
from il2.domain.retreatment import RetreatmentTable
from il2.domain.timeline import TimelinePolicy
from il2.rules.admission import admission_policy, export_policy
from il2.rules.bedside import (
    bedside_policy,
    bedside_table,
    bedside_terms,
    pressor_agents,
    terms_named,
)
from il2.rules.codes import CODES_FILE, KnownTerms, code_table
from il2.rules.ctcae import load_ctcae
from il2.rules.eligibility import criteria_table, thresholds
from il2.rules.eligibility import terms_named as eligibility_terms
from il2.rules.fields import field_gradings, field_specs
from il2.rules.leaflet import load_patient_leaflet, site_contacts
from il2.rules.pathway import load_pathway
from il2.rules.permissions import Permissions, permissions_table
from il2.rules.prognosis import load_prognostic_table
from il2.rules.reader import Node, read_bundled
from il2.rules.recist import irecist_criteria, recist_criteria
from il2.rules.regimens import before_dose_routes, regimen, regimen_sources
from il2.rules.retreatment import retreatment_table
from il2.rules.site import PolicySetting, SiteChange, ThresholdSetting, apply_site_file
from il2.rules.timeline import timeline_policy


@dataclass(frozen=True, slots=True)
class Site:
    """Who the site is and the time zone its naive date-times are read in."""

    name: str
    time_zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule table il2 runs on, with the versions of the files they came from."""

    site: Site
    regimens: Mapping[str, Regimen]
    regimen_sources: Mapping[str, Mapping[str, str]]
    before_dose_routes: tuple[str, ...]
    before_dose_routes_source: str
    product: Product
    plan_policy: PlanPolicy
    policies: tuple[PolicySetting, ...]
    criteria: CriteriaTable
    thresholds: tuple[ThresholdSetting, ...]
    screening_fields: Mapping[str, FieldSpec]
    bedside: BedsideTable
    bedside_fields: Mapping[str, FieldSpec]
    bedside_grading: Mapping[str, FieldGrading]
    bedside_policy: BedsidePolicy
    pressor_agents: Mapping[str, str]
    retreatment: RetreatmentTable
    retreatment_fields: Mapping[str, FieldSpec]
    ctcae: CtcaeTable
    recist: RecistCriteria
    pathway: PathwayTable
    permissions: Permissions
    irecist: IrecistCriteria
    site_changes: tuple[SiteChange, ...]
    versions: Mapping[str, str]
    timeline: TimelinePolicy
    admission: AdmissionPolicy
    codes: CodeTable
    exports: ExportPolicy
    prognostic_scores: PrognosticTable


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, failing with the file's name on any problem."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RuleTableError(
            file=str(path), field="(file)", problem=error.strerror or str(error)
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=str(path), field="(syntax)", problem=str(error)) from None


def _version(node: Node) -> str:
    return node.table("meta").text("version")


def site_digest(path: Path) -> str:
    """The first 12 hex digits of the site file's SHA-256: which policy file was in force."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as error:
        raise RuleTableError(
            file=str(path), field="(file)", problem=error.strerror or str(error)
        ) from None


def with_site(version: str, versions: Mapping[str, str]) -> str:
    """A rule file's version, joined with the site policy in force (its digest), if any."""
    digest = versions.get("site_digest")
    return f"{version}+site.{digest}" if digest else version


def _site_notes(changes: Sequence[SiteChange], section: str) -> dict[str, str]:
    notes: dict[str, list[str]] = {}
    for change in changes:
        if change.section == section:
            notes.setdefault(change.key, []).append(change.describe())
    return {key: "; ".join(lines) for key, lines in notes.items()}


# ---------------------------------------------------------------- product


def _product(node: Node, version: str) -> Product:
    node.only(
        "vial_iu", "reconstitution_ml", "reconstituted_iu_per_ml", "diluent",
        "concentration_min_ug_per_ml", "concentration_max_ug_per_ml", "stability_h",
        "source", "version", "dilution_bands", "mg_factors", "concentration_remedies",
        "vial_order", "preparation", "route_preparation", "names",
    )  # fmt: skip
    preparation = node.table("preparation")
    preparation.only("reconstitution_diluent", "handling", "never", "storage", "source")
    remedies = node.table("concentration_remedies")
    remedies.only("below_window", "above_window", "source")
    remedies.text("source")
    order = node.table("vial_order")
    order.only("note", "source")
    names = node.table("names")
    names.only("values", "source")
    names.text("source")
    bands = []
    for band in node.tables("dilution_bands"):
        band.only("max_dose_iu", "volume_ml", "source")
        bands.append(
            DilutionBand(
                max_dose_iu=band.optional_integer("max_dose_iu", minimum=1),
                volume_ml=band.integer("volume_ml", minimum=1),
                source=band.text("source"),
            )
        )
    edges = [b.max_dose_iu for b in bands]
    if edges[-1] is not None or None in edges[:-1] or edges[:-1] != sorted(edges[:-1]):  # type: ignore[type-var]
        raise node.fail("dilution_bands", "edges must rise, and only the last band is open")
    factors = []
    for item in node.tables("mg_factors"):
        item.only("id", "iu", "mg", "description", "source")
        factors.append(
            MgFactor(
                id=item.text("id"),
                iu=item.number("iu"),
                mg=item.number("mg"),
                description=item.text("description"),
                source=item.text("source"),
            )
        )
    return Product(
        vial_iu=node.integer("vial_iu", minimum=1),
        reconstitution_ml=node.number("reconstitution_ml"),
        reconstituted_iu_per_ml=node.integer("reconstituted_iu_per_ml", minimum=1),
        dilution_bands=tuple(bands),
        diluent=node.text("diluent"),
        concentration_min_ug_per_ml=node.number("concentration_min_ug_per_ml"),
        concentration_max_ug_per_ml=node.number("concentration_max_ug_per_ml"),
        stability_h=node.integer("stability_h", minimum=1),
        mg_factors=tuple(factors),
        source=node.text("source"),
        version=version,
        below_window_remedy=remedies.text("below_window"),
        above_window_remedy=remedies.text("above_window"),
        vial_order_note=order.text("note"),
        vial_order_source=order.text("source"),
        reconstitution_diluent=preparation.text("reconstitution_diluent"),
        preparation_notes=tuple(preparation.text(k) for k in ("handling", "never", "storage")),
        preparation_source=preparation.text("source"),
        route_preparation=_route_preparation(node),
        names=names.texts("values"),
    )


def _route_preparation(node: Node) -> tuple[RoutePreparation, ...]:
    if not node.has("route_preparation"):
        return ()
    found = []
    for key, entry in node.table("route_preparation").children():
        entry.only("note", "source")
        if key not in {r.value for r in Route} or key == Route.IV_BOLUS.value:
            raise entry.fail("note", f"{key!r} is not a route other than iv_bolus")
        found.append(RoutePreparation(Route(key), entry.text("note"), entry.text("source")))
    return tuple(found)


# ---------------------------------------------------------------- codes


def _known_terms(
    fields: Sequence[Mapping[str, FieldSpec]],
    regimens: Mapping[str, Regimen],
    ctcae: CtcaeTable,
) -> KnownTerms:
    """What il2's rule files name, for codes.toml to code: nothing else may be coded."""
    specs = {path: spec for table in fields for path, spec in table.items()}

    def values(path: str) -> frozenset[str]:
        return frozenset(specs[path].values) if path in specs else frozenset()

    agents = {agent.agent for r in regimens.values() for agent in r.agents}
    return KnownTerms(
        terms={
            Section.FIELDS: frozenset(specs),
            Section.UNITS: frozenset(spec.unit for spec in specs.values() if spec.unit),
            Section.DIAGNOSES: values("diagnosis"),
            Section.RHYTHMS: values("vitals.rhythm"),
            Section.AGENTS: frozenset({"aldesleukin", *agents}),
            Section.RESPONSES: frozenset(c.value for c in Category),
            Section.CTCAE_TERMS: frozenset(ctcae.terms),
            Section.CTCAE_GRADES: frozenset(
                str(grade) for term in ctcae.terms.values() for grade in term.grades
            ),
        }
    )


# ---------------------------------------------------------------- assembly


def _extractable_ml(setting: PolicySetting, product: Product) -> Decimal:
    """The volume drawn from a vial: above 0 and at most what reconstitution gives."""
    volume = Decimal(str(setting.value))
    if not Decimal(0) < volume <= product.reconstitution_ml:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"{setting.value!r} mL: must be above 0 and at most "
            f"{product.reconstitution_ml} mL, the label's reconstitution volume",
        )
    return volume


def _plan_policy(policies: Mapping[str, PolicySetting], product: Product) -> PlanPolicy:
    factor = str(policies["mg_factor"].value)
    if factor not in {f.id for f in product.mg_factors}:
        raise RuleTableError(
            file=policies["mg_factor"].origin, field="policy.mg_factor", problem="unknown factor"
        )
    return PlanPolicy(
        cycle_end_rule=CycleEndRule(str(policies["cycle_end_rule"].value)),
        vial_pooling=VialPooling(str(policies["vial_pooling"].value)),
        mg_factor=factor,
        weight_min_kg=Decimal(str(policies["weight_min_kg"].value)),
        weight_max_kg=Decimal(str(policies["weight_max_kg"].value)),
        vial_extractable_ml=_extractable_ml(policies["vial_extractable_ml"], product),
        dosing_weight_basis=DosingWeightBasis(str(policies["dosing_weight_basis"].value)),
        bsa_formula=BsaFormula(str(policies["bsa_formula"].value)),
        height_min_cm=Decimal(str(policies["height_min_cm"].value)),
        height_max_cm=Decimal(str(policies["height_max_cm"].value)),
        lesions_max=_lesions_max(policies["lesions_max"]),
    )


def _lesions_max(setting: PolicySetting) -> int:
    """The lesions guard: a whole number from 1."""
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"must be a whole number of at least 1, not {value!r}",
        )
    return value


def _site(node: Node) -> Site:
    node.only("name", "time_zone")
    zone_name = node.text("time_zone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.fail("time_zone", f"{zone_name!r} is not an IANA time zone") from None
    return Site(name=node.text("name"), time_zone=zone)


def _pathway(regimens: Mapping[str, Regimen]) -> PathwayTable:
    """The pathway table, its per-regimen conditions checked against the regimen library."""
    table = load_pathway()
    for regimen_id in table.regimen_conditions:
        if regimen_id not in regimens:
            raise RuleTableError(
                file="pathway.toml",
                field=f"conditions.regimens.{regimen_id}",
                problem="is not a regimen id (regimens.toml or the site's [regimens])",
            )
    return table


def _routes_checked(listed: tuple[str, ...], checked: tuple[str, ...]) -> None:
    """A route is planned only with both locks: listed in regimens.toml and with its own
    before-dose assessment in bedside_input.toml; the two must agree."""
    if set(listed) != set(checked):
        raise RuleTableError(
            file="regimens.toml",
            field="before_dose.routes",
            problem=f"lists {', '.join(listed)}; the routes with a before-dose assessment in "
            f"bedside_input.toml are {', '.join(checked)}: the two must agree",
        )


def load_rules(*, site_policy: Path | None = None) -> RuleSet:
    """Load the bundled rule files, apply the site's policy file if any, and validate all."""
    files = {
        "regimens": read_bundled("regimens.toml"),
        "product": read_bundled("product.toml"),
        "site_policy": read_bundled("site_policy.toml"),
        "eligibility": read_bundled("eligibility.toml"),
        "screening_input": read_bundled("screening_input.toml"),
        "bedside": read_bundled("bedside.toml"),
        "bedside_input": read_bundled("bedside_input.toml"),
        "retreatment": read_bundled("retreatment.toml"),
        "recist": read_bundled("recist.toml"),
        "permissions": read_bundled("permissions.toml"),
    }
    versions = {name: _version(Node(data, f"{name}.toml")) for name, data in files.items()}
    site_file = read_toml(site_policy) if site_policy is not None else None
    merged = apply_site_file(files, site_file, str(site_policy))
    if site_policy is not None:
        versions["site"] = merged.site_version
        versions["site_digest"] = site_digest(site_policy)

    policies = merged.policies
    product = _product(Node(files["product"], "product.toml").table("product"), versions["product"])
    regimens_node = Node(merged.regimens, merged.regimens_origin, "regimens")
    regimens = {key: regimen(key, node) for key, node in regimens_node.children()}
    sources = {key: regimen_sources(node) for key, node in regimens_node.children()}
    routes, routes_source = before_dose_routes(Node(files["regimens"], "regimens.toml"))
    criteria_node = Node(merged.criteria, merged.criteria_origin, "criteria")
    fields = field_specs(
        Node(files["screening_input"], "screening_input.toml").table("fields"),
        eligibility_terms(criteria_node),
    )
    criteria = criteria_table(
        criteria_node,
        fields=fields,
        policies=policies,
        changes=merged.changes,
        bundled=files["eligibility"]["criteria"],
        version=with_site(versions["eligibility"], versions),
    )
    ctcae = load_ctcae()
    versions["ctcae"] = ctcae.version
    bedside_input = Node(files["bedside_input"], "bedside_input.toml")
    bedside_node = Node({**files["bedside"], **merged.bedside}, merged.bedside_origin)
    bedside_fields = field_specs(
        bedside_input.table("fields"), bedside_terms(bedside_node, policies)
    )
    retreatment_node = Node(files["retreatment"], "retreatment.toml")
    retreatment_fields = field_specs(
        retreatment_node.table("fields"), terms_named(retreatment_node.table("items"))
    )
    site = _site(Node(merged.site, merged.site_origin, "site"))
    leaflet = load_patient_leaflet()
    site_contacts(leaflet, policies)  # a contact number that is no phone number stops il2 here
    versions["patient_leaflet"] = leaflet.version
    bedside = bedside_table(
        bedside_node,
        bedside_fields,
        with_site(versions["bedside"], versions),
        bedside_input,
        policies=policies,
        notes=_site_notes(merged.changes, "bedside"),
    )
    _routes_checked(routes, bedside.checked_routes())
    codes = code_table(
        Node(read_bundled(CODES_FILE), CODES_FILE),
        _known_terms((fields, bedside_fields, retreatment_fields), regimens, ctcae),
    )
    versions["codes"] = codes.version
    prognostic_scores = load_prognostic_table(fields)
    versions["prognostic_scores"] = prognostic_scores.version
    return RuleSet(
        site=site,
        regimens=regimens,
        regimen_sources=sources,
        before_dose_routes=routes,
        before_dose_routes_source=routes_source,
        product=product,
        plan_policy=_plan_policy(policies, product),
        policies=tuple(policies.values()),
        criteria=criteria,
        thresholds=thresholds(criteria_node, files["eligibility"]["criteria"]),
        screening_fields=fields,
        bedside=bedside,
        bedside_fields=bedside_fields,
        bedside_grading=field_gradings(bedside_input.table("grading"), bedside_fields, ctcae),
        bedside_policy=bedside_policy(policies),
        pressor_agents=pressor_agents(bedside_input),
        retreatment=retreatment_table(
            retreatment_node, retreatment_fields, versions["retreatment"], ctcae
        ),
        retreatment_fields=retreatment_fields,
        ctcae=ctcae,
        recist=recist_criteria(Node(files["recist"], "recist.toml"), versions["recist"]),
        irecist=irecist_criteria(Node(files["recist"], "recist.toml")),
        pathway=_pathway(regimens),
        permissions=permissions_table(
            Node(
                {**files["permissions"], "actions": merged.permissions}, merged.permissions_origin
            ),
            versions["permissions"],
        ),
        site_changes=merged.changes,
        versions=versions,
        timeline=timeline_policy(policies, site.time_zone),
        admission=admission_policy(policies),
        codes=codes,
        exports=export_policy(policies),
        prognostic_scores=prognostic_scores,
    )
