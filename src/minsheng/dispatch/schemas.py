"""API shapes of smart dispatch."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Schema

from minsheng.appeals.schemas import CategoryRef, UnitRef


class ModelStateOut(Schema):
    state: Literal["ready", "missing", "error"] = Field(
        description="ready: suggestions come from the model; missing: none trained yet; "
        "error: the model file could not be used (message says why)"
    )
    version: str | None = None
    message: str = ""


class CategorySuggestionOut(Schema):
    label: str = Field(description="the model's label (a category code, or a name)")
    confidence: float = Field(description="calibrated probability, 0–1")
    category: CategoryRef | None = Field(description="the category the label names, if any")
    unit: UnitRef | None = Field(
        description="the dispatch catalogue's unit for the top category and the appeal's place "
        "(first suggestion only)"
    )


class SuggestionsOut(Schema):
    appeal_id: int
    model: ModelStateOut
    suggestions: list[CategorySuggestionOut] = Field(description="most likely first")


class RelatedAppealOut(Schema):
    id: int
    tracking_code: str
    title: str
    status: str
    created_at: str = Field(description="ISO 8601")
    territory: UnitRef | None
    score: float = Field(description="0–1: text similarity × place weight (1 same village)")
    similarity: float = Field(description="cosine of character 2–3-gram vectors, 0–1")
    same_place: bool


class DuplicatesOut(Schema):
    appeal_id: int
    window_days: int = Field(description="only appeals received within this many days")
    duplicates: list[RelatedAppealOut] = Field(description="open appeals, likeliest first")
