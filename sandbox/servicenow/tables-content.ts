import { SYS_FIELDS, f, intChoice, ref, type TableDef } from './fields.ts';

/**
 * Service catalog items and the knowledge base: what a requested item orders (`sc_req_item.cat_item`)
 * and the articles a new instance's demo data has (demo.ts). Written by admin only.
 *
 * A catalog item's variables are `item_option_new` rows; what a requester answered is stored as one
 * `sc_item_option` per variable, tied to its requested item by `sc_item_option_mtom` — the tables
 * clients read a RITM's answers from (`sc_item_option_mtom?sysparm_query=request_item=<sys_id>&
 * sysparm_fields=sc_item_option.item_option_new.name,sc_item_option.value`). The Service Catalog API
 * (catalog.ts) writes them when an item is ordered.
 */
export const CONTENT_TABLE_DEFS: Record<string, TableDef> = {
  sc_cat_item: {
    name: 'sc_cat_item',
    label: 'Catalog Item',
    displayField: 'name',
    isTask: false,
    fields: {
      name: f('string', 'Name', { maxLength: 100 }),
      short_description: f('string', 'Short description', { maxLength: 1000 }),
      active: f('boolean', 'Active'),
      ...SYS_FIELDS,
    },
  },
  item_option_new: {
    name: 'item_option_new',
    label: 'Variable',
    displayField: 'question_text',
    isTask: false,
    fields: {
      name: f('string', 'Name', { maxLength: 100 }),
      question_text: f('string', 'Question', { maxLength: 255 }),
      cat_item: ref('sc_cat_item', 'Catalog item'),
      /** 6 Single Line Text, 2 Multi Line Text, 5 Select Box, 8 Reference (question type choice list). */
      type: intChoice('Type'),
      order: f('integer', 'Order'),
      mandatory: f('boolean', 'Mandatory'),
      default_value: f('string', 'Default value', { maxLength: 255 }),
      active: f('boolean', 'Active'),
      ...SYS_FIELDS,
    },
  },
  sc_item_option: {
    name: 'sc_item_option',
    label: 'Options',
    displayField: 'value',
    isTask: false,
    fields: {
      item_option_new: ref('item_option_new', 'Question'),
      value: f('string', 'Value', { maxLength: 4000 }),
      order: f('integer', 'Order'),
      ...SYS_FIELDS,
    },
  },
  sc_item_option_mtom: {
    name: 'sc_item_option_mtom',
    label: 'Variable Ownership',
    displayField: 'sc_item_option',
    isTask: false,
    fields: {
      request_item: ref('sc_req_item', 'Parent item'),
      sc_item_option: ref('sc_item_option', 'Dependent item'),
      ...SYS_FIELDS,
    },
  },
  kb_knowledge_base: {
    name: 'kb_knowledge_base',
    label: 'Knowledge Base',
    displayField: 'title',
    isTask: false,
    fields: {
      title: f('string', 'Title', { maxLength: 100 }),
      description: f('string', 'Description', { maxLength: 1000 }),
      active: f('boolean', 'Active'),
      ...SYS_FIELDS,
    },
  },
  kb_category: {
    name: 'kb_category',
    label: 'Category',
    displayField: 'label',
    isTask: false,
    fields: {
      label: f('string', 'Title', { maxLength: 100 }),
      value: f('string', 'Value', { maxLength: 100 }),
      kb_knowledge_base: ref('kb_knowledge_base', 'Knowledge base'),
      active: f('boolean', 'Active'),
      ...SYS_FIELDS,
    },
  },
  kb_knowledge: {
    name: 'kb_knowledge',
    label: 'Knowledge',
    prefix: 'KB',
    counterStart: 10001,
    displayField: 'number',
    isTask: false,
    fields: {
      number: f('string', 'Number'),
      short_description: f('string', 'Short description', { maxLength: 160 }),
      text: f('string', 'Article body', { internalType: 'html', maxLength: 65000 }),
      /** draft, review, published, pending_retirement, retired, outdated (sys_choice). */
      workflow_state: f('choice', 'Workflow'),
      kb_knowledge_base: ref('kb_knowledge_base', 'Knowledge base'),
      kb_category: ref('kb_category', 'Category'),
      author: ref('sys_user', 'Author'),
      active: f('boolean', 'Active'),
      ...SYS_FIELDS,
    },
  },
};
