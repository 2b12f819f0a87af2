{# The few things DuckDB and PostgreSQL spell differently, in one place. #}

{# A text field of a JSON object column (the loaders store Graph references as JSON). #}
{% macro json_text(column, key) -%}
  {{ adapter.dispatch('json_text', 'meta_bm')(column, key) }}
{%- endmacro %}
{% macro default__json_text(column, key) -%}
  ({{ column }}::jsonb ->> '{{ key }}')
{%- endmacro %}
{% macro duckdb__json_text(column, key) -%}
  json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{# A list of strings as one comma-separated text ("MANAGE,ADVERTISE"): target-duckdb keeps
   it as JSON, target-postgres as text[]. #}
{% macro json_list_text(column) -%}
  {{ adapter.dispatch('json_list_text', 'meta_bm')(column) }}
{%- endmacro %}
{% macro default__json_list_text(column) -%}
  array_to_string({{ column }}, ',')
{%- endmacro %}
{% macro duckdb__json_list_text(column) -%}
  array_to_string(from_json({{ column }}, '["VARCHAR"]'), ',')
{%- endmacro %}

{#
  When a row left the source: the loader's soft-delete column where it keeps one
  (target-postgres), else null (target-duckdb drops no row and marks none).
#}
{% macro deleted_at(relation) -%}
  {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {%- if '_sdc_deleted_at' in names -%} _sdc_deleted_at {%- else -%} cast(null as timestamp) {%- endif -%}
{%- endmacro %}

{# When the loader first wrote the row (target-postgres' metadata), else null. #}
{% macro loaded_at(relation) -%}
  {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {%- if '_sdc_received_at' in names -%} _sdc_received_at {%- else -%} cast(null as timestamp) {%- endif -%}
{%- endmacro %}
