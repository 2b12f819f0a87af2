{#
  A table tap-meta-bm loaded, wherever it was loaded: one schema (meta_bm), or one schema per
  account shard (var meta_bm_schemas, e.g. dbt:build-shards in meltano.yml). The shards hold
  disjoint rows, so their union is the whole; a shard with no such table (shards other than 0
  read no business-level stream) is left out.
#}
{% macro loaded_relations(table) -%}
  {%- set schemas = var('meta_bm_schemas') -%}
  {%- if not execute -%}
    {#- Parsing: no database yet, only the first schema's name. -#}
    {{ return([api.Relation.create(schema=schemas[0], identifier=table)]) }}
  {%- endif -%}
  {#- Asked of the database itself, not of dbt's relation cache: the schemas are the loader's,
      not dbt's, and `adapter.get_relation` on them from dbt's four threads once found
      ad_accounts for one model and not for the next in the same PostgreSQL build. -#}
  {%- set listed -%}
    select table_schema from information_schema.tables
    where table_name = '{{ table }}'
      and table_schema in ({% for schema in schemas %}'{{ schema }}'{{ ", " if not loop.last }}{% endfor %})
  {%- endset -%}
  {%- set present = run_query(listed).columns[0].values() | list -%}
  {%- set found = [] -%}
  {%- for schema in schemas if schema in present -%}
    {%- do found.append(api.Relation.create(schema=schema, identifier=table)) -%}
  {%- endfor -%}
  {%- if not found -%}
    {{ exceptions.raise_compiler_error("No table " ~ table ~ " in any of the schemas "
                                       ~ schemas | join(', ')
                                       ~ ": has tap-meta-bm loaded it?") }}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{#
  The relations as one, column by column (by name: shards' tables may have gained columns in
  another order).

  reads: which rows of a full-table stream (one whose rows carry `_read_id`).
  - none: every row loaded.
  - 'current': the rows of the latest read that covered their partition, and rows a later
    read saw. A read covered a row's partition when it is in the tap's `complete_reads`, or in
    its `partial_reads` without naming that partition unread (same schema: each shard has its
    own reads). A row the latest read of its partition did not list was revoked or removed at
    the source, whatever the loader did with ACTIVATE_VERSION; a partition the reads keep
    skipping keeps its rows as last read. With no read of its partition yet, every row counts.
  - 'all': every row, with `_is_current` (the rule above) and `_gone_at`, the time of the
    first read of its partition that no longer listed it (null while current).
#}
{% macro union_of(relations, reads=none) -%}
  {%- set columns = adapter.get_columns_in_relation(relations[0]) | map(attribute='name') | list -%}
  (
  {%- for relation in relations %}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | list %}
    {%- set row_read = 'coalesce(loaded.' ~ adapter.quote('_read_id') ~ ', 0)' %}
    {%- set covering = reads_covering(relation, present) if reads else none %}
      select
      {%- for column in columns %}
        {% if column in present %}loaded.{{ adapter.quote(column) }}{% else %}null{% endif %} as {{ adapter.quote(column) }}{{ "," if not loop.last or reads == 'all' }}
      {%- endfor %}
      {%- if reads == 'all' and covering is not none %}
        {{ row_read }} >= coalesce((select max(r.read_id) from {{ covering }} r), 0)
          as _is_current,
        {{ read_time('(select min(r.read_id) from ' ~ covering ~ ' r where r.read_id > '
                     ~ row_read ~ ')') }} as _gone_at
      {%- elif reads == 'all' %}
        true as _is_current,
        cast(null as timestamp) as _gone_at
      {%- endif %}
      from {{ relation }} as loaded
      {%- if reads == 'current' and covering is not none %}
      where {{ row_read }} >= coalesce((select max(r.read_id) from {{ covering }} r), 0)
      {%- endif %}
      {% if not loop.last %}union all{% endif %}
  {%- endfor %}
  ) as loaded_rows
{%- endmacro %}

{#
  The reads (a subquery of `read_id`s) that covered the partition of the row `loaded` of a
  full-table table: its stream's complete reads, and its partial reads that did not leave that
  partition unread (a partial_reads row names a partition by the columns its rows carry; a
  null column matches any value). None when the schema holds no record of reads yet.
#}
{% macro reads_covering(relation, present) -%}
  {%- set complete = adapter.get_relation(database=target.database, schema=relation.schema,
                                          identifier='complete_reads') %}
  {%- set partial = adapter.get_relation(database=target.database, schema=relation.schema,
                                         identifier='partial_reads') %}
  {%- set stream = "'" ~ relation.identifier ~ "'" %}
  {%- if complete is none and partial is none -%}{{ return(none) }}{%- endif -%}
  {%- set selects = [] %}
  {%- if complete is not none %}
    {%- do selects.append('select c.read_id from ' ~ complete.include(database=false)
                          ~ ' c where c.stream = ' ~ stream) %}
  {%- endif %}
  {%- if partial is not none %}
    {#- The partition's columns: partial_reads' own and the loaders' (_sdc_...) aside. -#}
    {%- set own = ['stream', 'read_id', 'read_at', 'partition', 'unread_since', 'reads'] %}
    {%- set match = ['true'] %}
    {%- for key in adapter.get_columns_in_relation(partial) | map(attribute='name')
        if key in present and key not in own and not key.startswith('_') %}
      {%- do match.append('(u.' ~ adapter.quote(key) ~ ' is null or u.' ~ adapter.quote(key)
                          ~ ' = cast(loaded.' ~ adapter.quote(key) ~ ' as varchar))') %}
    {%- endfor %}
    {%- do selects.append('select p.read_id from ' ~ partial.include(database=false)
                          ~ ' p where p.stream = ' ~ stream ~ ' and not exists (select 1 from '
                          ~ partial.include(database=false) ~ ' u where u.stream = ' ~ stream
                          ~ ' and u.read_id = p.read_id and ' ~ match | join(' and ') ~ ')') %}
  {%- endif %}
  {{ return('(' ~ selects | join(' union all ') ~ ')') }}
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
