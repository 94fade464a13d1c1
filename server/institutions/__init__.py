"""Primary-care institutions (基层医疗卫生机构) and their agreements with the bureau (协议)."""
