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
    {%- if relation is not none -%}{%- do found.append(relation.include(database=false)) -%}{%- endif -%}
  {%- endfor -%}
  {%- if not execute -%}
    {#- Parsing: no database yet, only the first schema's name. -#}
    {{ return([api.Relation.create(schema=var('meta_bm_schemas')[0], identifier=table)]) }}
  {%- endif -%}
  {%- if not found -%}
    {{ exceptions.raise_compiler_error("No table " ~ table ~ " in any of the schemas "
                                       ~ var('meta_bm_schemas') | join(', ')
                                       ~ ": has tap-meta-bm loaded it?") }}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{#
  The relations as one, column by column (by name: shards' tables may have gained columns in
  another order).

  reads: which rows of a full-table stream (one whose rows carry `_read_id`).
  - none: every row loaded.
  - 'current': the rows of the stream's latest complete read (the tap's `complete_reads`, in
    the same schema: each shard has its own reads), and rows a later read saw. A row the
    latest complete read did not list was revoked or removed at the source, whatever the
    loader did with ACTIVATE_VERSION. With no complete read yet, every row counts.
  - 'all': every row, with `_is_current` (the rule above) and `_gone_at`, the time of the
    first complete read that no longer listed it (null while current).
#}
{% macro union_of(relations, reads=none) -%}
  {%- set columns = adapter.get_columns_in_relation(relations[0]) | map(attribute='name') | list -%}
  (
  {%- for relation in relations %}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | list %}
    {%- set complete = adapter.get_relation(database=target.database, schema=relation.schema,
                                            identifier='complete_reads') if reads else none %}
    {%- set stream = "'" ~ relation.identifier ~ "'" %}
    {%- set row_read = 'coalesce(loaded.' ~ adapter.quote('_read_id') ~ ', 0)' %}
    {%- set latest -%}
      coalesce((select max(c.read_id) from {{ complete.include(database=false) if complete }} c
                where c.stream = {{ stream }}), 0)
    {%- endset %}
      select
      {%- for column in columns %}
        {% if column in present %}loaded.{{ adapter.quote(column) }}{% else %}null{% endif %} as {{ adapter.quote(column) }}{{ "," if not loop.last or reads == 'all' }}
      {%- endfor %}
      {%- if reads == 'all' and complete is not none %}
        {{ row_read }} >= {{ latest }} as _is_current,
        {{ read_time('(select min(c.read_id) from ' ~ complete.include(database=false)
                     ~ ' c where c.stream = ' ~ stream ~ ' and c.read_id > ' ~ row_read ~ ')') }}
          as _gone_at
      {%- elif reads == 'all' %}
        true as _is_current,
        cast(null as timestamp) as _gone_at
      {%- endif %}
      from {{ relation }} as loaded
      {%- if reads == 'current' and complete is not none %}
      where {{ row_read }} >= {{ latest }}
      {%- endif %}
      {% if not loop.last %}union all{% endif %}
  {%- endfor %}
  ) as loaded_rows
{%- endmacro %}

{# The current rows of a full-table stream, from every schema it was loaded into. #}
{% macro current_rows(table) -%}
  {{ union_of(loaded_relations(table), reads='current') }}
{%- endmacro %}

{#
  Whether tap-meta-bm ever loaded a stream: one that had no rows yet (no partner token, no
  page shared with a partner) has no table, and its models answer nothing instead.
#}
{% macro is_loaded(table) -%}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- for schema in var('meta_bm_schemas') -%}
    {%- if adapter.get_relation(database=target.database, schema=schema,
                                identifier=table) is not none -%}
      {{ return(true) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(false) }}
{%- endmacro %}
