"""Streaming writers for the process graph's evidence files, GraphML and node-link JSON.

networkx builds a whole ElementTree, or a whole indented JSON text in pure Python, before it
writes a byte. Both writers here go a block of nodes at a time and convert each attribute for
the whole block at once, so their cost and memory stay in proportion to the graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from irreport.output import (BLOCK_ROWS, concatenate_rows, indexes_by_keys,
                             json_objects_of_columns)
from irreport.textsafe import TextColumn, json_cell, json_text

# Python type of a value to its GraphML attr.type, as networkx's reader expects it.
_GRAPHML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
# Characters XML 1.0 cannot carry even escaped; they become U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADER = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
_XML_BOOLEANS = {True: "true", False: "false"}


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def _xml_attribute(value: Any) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", str(value)))


def _attribute_keys(items) -> dict[str, tuple[str, str]]:
    """Return attribute name -> (key id, GraphML type), typed by the first value seen."""
    keys: dict[str, tuple[str, str]] = {}
    for attributes in items:
        for name, value in attributes.items():
            if name not in keys and type(value) in _GRAPHML_TYPES:
                keys[name] = ("", _GRAPHML_TYPES[type(value)])
    return keys


def write_graphml(graph: nx.DiGraph, path: Path, graph_attributes: dict[str, Any]) -> None:
    """Write *graph* as GraphML with its scalar node attributes and *graph_attributes*.

    Values of other types are left out, as networkx's writer cannot carry them either.
    """
    graph_keys = _attribute_keys([graph_attributes])
    node_keys = _attribute_keys(attributes for _, attributes in graph.nodes(data=True))
    numbered: dict[tuple[str, str], str] = {}
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(_HEADER)
        for scope, keys in (("graph", graph_keys), ("node", node_keys)):
            for name, (_, kind) in keys.items():
                key_id = f"d{len(numbered)}"
                numbered[(scope, name)] = key_id
                out.write(f'  <key id="{key_id}" for="{scope}" attr.name={quoteattr(name)} '
                          f'attr.type="{kind}" />\n')
        out.write('  <graph edgedefault="directed">\n')
        _write_data(out, graph_attributes, graph_keys, numbered, "graph", "    ")
        node_data = {name: numbered[("node", name)] for name in node_keys}
        for block in _blocks(graph.nodes(data=True)):
            out.write("".join(_graphml_nodes(block, node_data)))
        for block in _blocks(graph.edges()):
            sources = _xml_attributes([source for source, _ in block])
            targets = _xml_attributes([target for _, target in block])
            out.write("".join(concatenate_rows(
                ["    <edge source=", sources, " target=", targets, " />\n"], len(block))))
        out.write("  </graph>\n</graphml>\n")


def _write_data(out: TextIO, attributes: dict[str, Any], keys: dict[str, tuple[str, str]],
                numbered: dict[tuple[str, str], str], scope: str, indent: str) -> None:
    for name, value in attributes.items():
        if name in keys and type(value) in _GRAPHML_TYPES:
            out.write(f'{indent}<data key="{numbered[(scope, name)]}">{_xml_text(value)}</data>\n')


def _graphml_nodes(block: list[tuple[Any, dict[str, Any]]],
                   key_ids: dict[str, str]) -> list[str]:
    """Return the <node> elements of a block of (node, attributes) pairs.

    A node's <data> elements follow its own attribute order, so nodes are grouped by their
    attribute names, as `_write_data` would write them one by one.
    """
    texts: list[str] = [""] * len(block)
    groups = indexes_by_keys([attributes for _, attributes in block])
    for names, indexes in groups.items():
        nodes = [block[index][0] for index in indexes]
        attributes = [block[index][1] for index in indexes]
        parts: list[str | list[str]] = ["    <node id=", _xml_attributes(nodes), ">\n"]
        for name in names:
            if name in key_ids:
                values = list(map(itemgetter(name), attributes))
                parts += _graphml_data(values, f'      <data key="{key_ids[name]}">')
        parts.append("    </node>\n")
        for index, text in zip(indexes, concatenate_rows(parts, len(nodes))):
            texts[index] = text
    return texts


def _graphml_data(values: list[Any], start: str) -> list[str | list[str]]:
    """Return the parts of one attribute's <data> element for each value."""
    types = set(map(type, values))
    if len(types) == 1 and types.issubset(_GRAPHML_TYPES):
        return [start, _xml_texts(values, types.pop()), "</data>\n"]
    # Mixed types, or values GraphML cannot carry, which are left out node by node.
    return [[start + _xml_text(value) + "</data>\n" if type(value) in _GRAPHML_TYPES else ""
             for value in values]]


def _xml_texts(values: list[Any], kind: type) -> list[str]:
    """Return `_xml_text` of every value, all of type *kind*."""
    if kind is bool:
        return list(map(_XML_BOOLEANS.__getitem__, values))
    if kind is not str:
        return list(map(str, values))
    if not values:
        return []
    joined = "".join(values)
    if not joined.isprintable() and _NOT_XML.search(joined):
        return list(map(_xml_text, values))
    # No value contains NUL, so it can separate them while they are escaped together.
    return escape("\0".join(values)).split("\0")


def _xml_attributes(values: list[Any]) -> list[str]:
    """Return `_xml_attribute` of every value."""
    texts = list(map(str, values))
    joined = "".join(texts)
    if joined.isprintable() and not any(c in joined for c in '&<>"'):
        # quoteattr changes nothing here but to put the text in double quotes.
        return list(map('"{}"'.format, texts))
    return list(map(_xml_attribute, values))


def write_node_link_json(graph: nx.DiGraph, path: Path) -> None:
    """Write *graph* as networkx's node-link JSON, one node or edge per line.

    The document parses to what `json_ready(nx.node_link_data(graph, edges="edges"))` returns.
    """
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n "directed": true,\n "multigraph": false,\n "graph": ')
        out.write(json_text(graph.graph))
        out.write(',\n "nodes": [')
        separator = "\n  "
        for block in _blocks(graph.nodes(data=True)):
            out.write(separator)
            out.write(",\n  ".join(_node_objects(block)))
            separator = ",\n  "
        out.write("\n ],\n \"edges\": [" if graph.number_of_nodes() else "],\n \"edges\": [")
        separator = "\n  "
        for block in _blocks(graph.edges()):
            sources = TextColumn([source for source, _ in block]).json()
            targets = TextColumn([target for _, target in block]).json()
            out.write(separator)
            out.write(",\n  ".join(concatenate_rows(
                ['{"source": ', sources, ', "target": ', targets, "}"], len(block))))
            separator = ",\n  "
        out.write("\n ]\n}" if graph.number_of_edges() else "]\n}")


def _node_objects(block: list[tuple[Any, dict[str, Any]]]) -> list[str]:
    """Return `json_cell({**attributes, "id": node})` for each (node, attributes) pair."""
    texts: list[str] = [""] * len(block)
    for names, indexes in indexes_by_keys([attributes for _, attributes in block]).items():
        nodes = [block[index][0] for index in indexes]
        attributes = [block[index][1] for index in indexes]
        if set(map(type, names)) <= {str}:
            keys = list(names)
            columns = [list(map(itemgetter(name), attributes)) for name in names]
            # "id" replaces an attribute of that name in its place, as the dict merge does.
            if "id" in keys:
                columns[keys.index("id")] = nodes
            else:
                keys.append("id")
                columns.append(nodes)
            objects = json_objects_of_columns(keys, columns, len(nodes))
        else:
            objects = [json_cell({**attributes, "id": node}) for node, attributes in
                       (block[index] for index in indexes)]
        for index, text in zip(indexes, objects):
            texts[index] = text
    return texts


def _blocks(items) -> Iterator[list[Any]]:
    iterator = iter(items)
    while block := list(islice(iterator, BLOCK_ROWS)):
        yield block
