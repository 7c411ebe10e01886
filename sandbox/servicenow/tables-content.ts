import { SYS_FIELDS, f, ref, type TableDef } from './fields.ts';

/**
 * Service catalog items and the knowledge base: what a requested item orders (`sc_req_item.cat_item`)
 * and the articles a new instance's demo data has (demo.ts). Written by admin only.
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
