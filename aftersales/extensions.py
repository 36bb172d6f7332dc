"""Places where higher layers add to the after-sales pages without this app importing them.

Interception, for example, adds an "intercept" action to the detail page, a bulk action to the
workbench and an interception tag to its rows. Each registration happens in the higher app's
AppConfig.ready(); each hook runs a fixed number of queries per page, whatever its size.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BulkAction:
    """A button of the workbench's bulk bar: posts the ticked ids (`ids`), or every filtered row."""

    key: str
    label: str
    url_name: str
    all_filtered_label: str = ""


@dataclass(frozen=True)
class DetailAction:
    """A link-style action on the after-sale detail: shown disabled with `blocker` as the reason."""

    key: str
    label: str
    url: str
    blocker: str | None = None
    # A primary action is drawn as the page's main button; a secondary one (a link to another tool,
    # such as the IM card) as a plain one, so that a closed after-sale has no prominent button.
    primary: bool = True


@dataclass(frozen=True)
class DetailSection:
    """A card of the after-sale detail, drawn by a higher layer's template with its own context."""

    key: str
    template: str
    context: dict


# tagger(after_sales on the page) -> {after_sale_id: [(css class, label), ...]}
RowTagger = Callable[[list], dict[int, list[tuple[str, str]]]]
# detail_actions(after_sale) -> [DetailAction, ...]
DetailActions = Callable[[object], list[DetailAction]]

# detail_sections(after_sale) -> [DetailSection, ...]: at most one query per provider
DetailSections = Callable[[object], list[DetailSection]]

bulk_actions: list[BulkAction] = []
row_taggers: list[RowTagger] = []
detail_actions: list[DetailActions] = []
detail_sections: list[DetailSections] = []


def _add(registry: list, item) -> None:
    if item not in registry:  # ready() may run more than once in tests
        registry.append(item)


def register_bulk_action(action: BulkAction) -> None:
    _add(bulk_actions, action)


def register_row_tagger(tagger: RowTagger) -> None:
    _add(row_taggers, tagger)


def register_detail_actions(provider: DetailActions) -> None:
    _add(detail_actions, provider)


def register_detail_sections(provider: DetailSections) -> None:
    _add(detail_sections, provider)


def tags_for(after_sales: list) -> dict[int, list[tuple[str, str]]]:
    tags: dict[int, list[tuple[str, str]]] = {}
    for tagger in row_taggers:
        for after_sale_id, extra in tagger(after_sales).items():
            tags.setdefault(after_sale_id, []).extend(extra)
    return tags


def actions_for(after_sale) -> list[DetailAction]:
    return [action for provider in detail_actions for action in provider(after_sale)]


def sections_for(after_sale) -> list[DetailSection]:
    return [section for provider in detail_sections for section in provider(after_sale)]
