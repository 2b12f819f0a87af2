{#
  A table tap-meta-bm loaded, wherever it was loaded: one schema (meta_bm), or one schema per
  account shard (var meta_bm_schemas, e.g. dbt:build-shards in meltano.yml). The shards hold
  disjoint rows, so their union is the whole; a shard with no such table (shards other than 0
  read no business-level stream) is left out.
#}
{% macro loaded_relations(table) -%}
  {%- set found = [] -%}
  {%- for schema in var('meta_bm_schemas') -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=schema,
                                            identifier=table) -%}
    {%- if relation is not none -%}{%- do found.append(relation) -%}{%- endif -%}
  {%- endfor -%}
  {%- if not execute -%}
    {#- Parsing: no database yet, only the first schema's name. -#}
    {{ return([api.Relation.create(database=target.database, schema=var('meta_bm_schemas')[0],
                                   identifier=table)]) }}
  {%- endif -%}
  {%- if not found -%}
    {{ exceptions.raise_compiler_error("No table " ~ table ~ " in any of the schemas "
                                       ~ var('meta_bm_schemas') | join(', ')
                                       ~ ": has tap-meta-bm loaded it?") }}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{# The relations as one: a relation itself, or the union of their rows, column by column
   (by name: shards' tables may have gained columns in another order). #}
{% macro union_of(relations) -%}
  {%- if relations | length == 1 -%}
    {{ relations[0] }}
  {%- else -%}
    {%- set columns = adapter.get_columns_in_relation(relations[0]) | map(attribute='name') | list -%}
    (
    {%- for relation in relations %}
      {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | list %}
      select
      {%- for column in columns %}
        {% if column in present %}{{ adapter.quote(column) }}{% else %}null{% endif %} as {{ adapter.quote(column) }}{{ "," if not loop.last }}
      {%- endfor %}
      from {{ relation }}
      {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    ) as shards
  {%- endif -%}
{%- endmacro %}
